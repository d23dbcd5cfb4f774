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

// dates fills the encoder's date cache for the second of ts.
func (e *Encoder) dates(ts int64) {
	sec := secondsOf(ts)
	if e.haveDate && sec == e.lastSec {
		return
	}
	e.lastSec, e.haveDate = sec, true
	t := time.Unix(sec, 0).UTC()
	b := append(e.tsHead[:0], `,"@timestamp":"`...)
	e.tsHead = t.AppendFormat(b, "2006-01-02T15:04:05.")
	b = append(e.tsMid[:0], `Z","sniff_timestamp":`...)
	b = appendInt(b, sec)
	e.tsMid = append(b, '.')
	b = append(e.tsTail[:0], `,"sniff_date_utc":"`...)
	b = t.AppendFormat(b, "2006-01-02T15:04:05-0700")
	e.tsTail = append(b, '"')
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
