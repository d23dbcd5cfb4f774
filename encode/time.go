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
	us, ns             []byte
	// where the fractions are: of @timestamp (both forms) and of
	// sniff_timestamp
	tsFrac, sniffFrac int
}

// get renders the templates for second sec of the file (name, date), unless
// they are the ones held.
func (c *headCache) get(sec int64, name, date string) {
	if c.valid && sec == c.sec && name == c.fileName && date == c.fileDate {
		return
	}
	c.valid, c.sec, c.fileName, c.fileDate = true, sec, name, date
	t := time.Unix(sec, 0).UTC()
	var tail []byte
	tail = append(tail, `,"sniff_date_utc":"`...)
	tail = t.AppendFormat(tail, "2006-01-02T15:04:05-0700")
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
	b := append(c.us[:0], `,"@timestamp":"`...)
	b = t.AppendFormat(b, "2006-01-02T15:04:05.")
	c.tsFrac = len(b)
	b = append(b, `000000000Z","sniff_timestamp":`...)
	b = appendInt(b, sec)
	b = append(b, '.')
	c.sniffFrac = len(b)
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
	dst = append(dst, prefix...)
	return time.Unix(secondsOf(ts), 0).UTC().AppendFormat(dst, "2006-01-02")
}
