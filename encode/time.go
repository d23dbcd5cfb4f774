package encode

import "time"

// nanosOf returns the nanoseconds within the second of a Unix nanosecond
// time (also for times before 1970).
func nanosOf(ts int64) int64 {
	n := ts % 1e9
	if n < 0 {
		n += 1e9
	}
	return n
}

// secondsOf returns the whole seconds of a Unix nanosecond time, rounded
// down.
func secondsOf(ts int64) int64 {
	s := ts / 1e9
	if ts%1e9 < 0 {
		s--
	}
	return s
}

// appendSeconds appends a Unix nanosecond time as a JSON number of seconds,
// with 6 decimals (9 when the time has sub-microsecond digits), as espcap's
// sniff_timestamp.
func appendSeconds(dst []byte, ts int64) []byte {
	sec, ns := secondsOf(ts), nanosOf(ts)
	dst = appendInt(dst, sec)
	dst = append(dst, '.')
	if ns%1000 == 0 {
		return appendFrac(dst, ns/1000, 6)
	}
	return appendFrac(dst, ns, 9)
}

// dates fills the encoder's date cache for the second of ts.
func (e *Encoder) dates(ts int64) {
	sec := secondsOf(ts)
	if e.haveDate && sec == e.lastSec {
		return
	}
	e.lastSec, e.haveDate = sec, true
	t := time.Unix(sec, 0).UTC()
	b := t.AppendFormat(e.iso[:0], "2006-01-02T15:04:05")
	copy(e.iso[:], b)
	b = t.AppendFormat(e.espDate[:0], "2006-01-02T15:04:05-0700")
	copy(e.espDate[:], b)
}

// AppendDateUTC appends t in the form of espcap's sniff_date_utc and
// file_date_utc ("2015-07-30T05:22:12+0000").
func AppendDateUTC(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, "2006-01-02T15:04:05-0700")
}

// AppendIndexName appends the name of the daily index for a packet captured
// at ts (Unix nanoseconds): prefix + "YYYY-MM-DD" of the packet's own UTC
// day, as espcap named them ("packets-2015-07-30").
func AppendIndexName(dst []byte, prefix string, ts int64) []byte {
	dst = append(dst, prefix...)
	return time.Unix(secondsOf(ts), 0).UTC().AppendFormat(dst, "2006-01-02")
}
