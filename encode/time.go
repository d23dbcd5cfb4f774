package encode

import (
	"fmt"
	"time"
)

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

// headCache holds the start of every document of one second of one file:
// @timestamp, sniff_timestamp, sniff_date_utc, file_name and
// file_date_utc, rendered with zeros for the fractions of the second, in
// two forms: sniff_timestamp with six digits (microsecond captures) and
// with nine. A document starts with one copy and the fraction digits
// written over the zeros.
type headCache struct {
	valid              bool
	sec                int64
	fileName, fileDate string
	us, ns, tail       []byte
	// where the fractions are: of @timestamp (both forms) and of
	// sniff_timestamp
	tsFrac, sniffFrac int
	// where the time of day (hh:mm:ss) is in @timestamp and in
	// sniff_date_utc (in us and ns), and the whole seconds of
	// sniff_timestamp, so that the next second of the same day is
	// written over the last
	tsHMS, usHMS, nsHMS int
	secAt, secLen       int
}

// get renders the templates for second sec of the file (name, date), unless
// they are the ones held.
func (c *headCache) get(sec int64, name, date string) {
	if c.valid && sec == c.sec && name == c.fileName && date == c.fileDate {
		return
	}
	if c.valid && name == c.fileName && date == c.fileDate && sec >= 0 && c.sec >= 0 && sec/86400 == c.sec/86400 {
		var digits [20]byte
		if d := appendUint(digits[:0], uint64(sec)); len(d) == c.secLen {
			// the same day: only the time of day and the seconds change
			c.sec = sec
			tod := uint32(sec % 86400)
			h, m, s := tod/3600, tod/60%60, tod%60
			hms := [8]byte{digitPairs[h*2], digitPairs[h*2+1], ':', digitPairs[m*2], digitPairs[m*2+1], ':', digitPairs[s*2], digitPairs[s*2+1]}
			*(*[8]byte)(c.us[c.tsHMS:]) = hms
			*(*[8]byte)(c.ns[c.tsHMS:]) = hms
			*(*[8]byte)(c.us[c.usHMS:]) = hms
			*(*[8]byte)(c.ns[c.nsHMS:]) = hms
			copy(c.us[c.secAt:], d)
			copy(c.ns[c.secAt:], d)
			return
		}
	}
	c.valid, c.sec, c.fileName, c.fileDate = true, sec, name, date
	t := time.Unix(sec, 0).UTC()
	tail := append(c.tail[:0], `,"sniff_date_utc":"`...)
	tail = t.AppendFormat(tail, "2006-01-02T15:04:05-0700")
	tailHMS := len(tail) - len("15:04:05-0700")
	tail = append(tail, '"')
	if name != "" {
		tail = append(tail, `,"file_name":`...)
		tail = appendStringS(tail, name)
		if date != "" {
			tail = append(tail, `,"file_date_utc":"`...)
			tail = append(tail, date...)
			tail = append(tail, '"')
		}
	}
	c.tail = tail
	b := append(c.us[:0], `,"@timestamp":"`...)
	b = t.AppendFormat(b, "2006-01-02T15:04:05.")
	c.tsHMS = len(b) - len("15:04:05.")
	c.tsFrac = len(b)
	b = append(b, `000000000Z","sniff_timestamp":`...)
	c.secAt = len(b)
	b = appendInt(b, sec)
	c.secLen = len(b) - c.secAt
	b = append(b, '.')
	c.sniffFrac = len(b)
	c.usHMS = c.sniffFrac + 6 + tailHMS
	c.nsHMS = c.sniffFrac + 9 + tailHMS
	c.ns = append(append(append(c.ns[:0], b...), "000000000"...), tail...)
	c.us = append(append(b, "000000"...), tail...)
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
	return AppendPeriodIndexName(dst, prefix, PeriodDay, ts)
}

// IndexPeriod is how much capture time one index holds.
type IndexPeriod int

// The index periods of --index-period.
const (
	PeriodDay   IndexPeriod = iota // prefix + "2015-07-30" (espcap's)
	PeriodWeek                     // prefix + "2015-w31" (ISO 8601 week; index names are lowercase)
	PeriodMonth                    // prefix + "2015-07"
	PeriodNone                     // prefix + "all": one index for every time
)

// ParseIndexPeriod reads day, week, month or none.
func ParseIndexPeriod(s string) (IndexPeriod, error) {
	switch s {
	case "day":
		return PeriodDay, nil
	case "week":
		return PeriodWeek, nil
	case "month":
		return PeriodMonth, nil
	case "none":
		return PeriodNone, nil
	}
	return 0, fmt.Errorf("index period %q: want day, week, month or none", s)
}

// AppendPeriodIndexName appends the name of the index that holds a packet
// captured at ts (Unix nanoseconds) for the period: prefix and the packet's
// UTC day, ISO week or month, or prefix + "all" for PeriodNone.
func AppendPeriodIndexName(dst []byte, prefix string, p IndexPeriod, ts int64) []byte {
	dst = append(dst, prefix...)
	t := time.Unix(secondsOf(ts), 0).UTC()
	switch p {
	case PeriodWeek:
		y, w := t.ISOWeek()
		dst = appendUint(dst, uint64(y))
		dst = append(dst, "-w"...) // index names are lowercase
		if w < 10 {
			dst = append(dst, '0')
		}
		return appendUint(dst, uint64(w))
	case PeriodMonth:
		return t.AppendFormat(dst, "2006-01")
	case PeriodNone:
		return append(dst, "all"...)
	}
	return t.AppendFormat(dst, "2006-01-02")
}
