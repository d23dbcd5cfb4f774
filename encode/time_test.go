package encode

import (
	"math"
	"testing"
	"time"
)

func TestIndexNames(t *testing.T) {
	ts := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixNano()
	}
	for _, c := range []struct {
		period string
		at     string
		want   string
	}{
		{"day", "2015-07-30T05:22:10.468623Z", "packets-2015-07-30"},
		{"day", "1969-12-31T23:59:59.9Z", "packets-1969-12-31"},
		{"week", "2015-07-30T05:22:10Z", "packets-2015-w31"},
		{"week", "2021-01-01T00:00:00Z", "packets-2020-w53"}, // ISO week-year, not the calendar year
		{"week", "2024-12-30T12:00:00Z", "packets-2025-w01"},
		{"week", "2015-03-02T00:00:00Z", "packets-2015-w10"},
		{"week", "2015-02-23T00:00:00Z", "packets-2015-w09"},
		{"month", "2015-07-30T05:22:10Z", "packets-2015-07"},
		{"month", "2016-01-01T00:00:00Z", "packets-2016-01"},
		{"none", "2015-07-30T05:22:10Z", "packets-all"},
	} {
		p, err := ParseIndexPeriod(c.period)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(AppendPeriodIndexName(nil, "packets-", p, ts(c.at))); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.period, c.at, got, c.want)
		}
	}
	if _, err := ParseIndexPeriod("year"); err == nil {
		t.Error("year accepted")
	}
}

// TestAppendTimeMatchesFormat compares the flow documents' time writer with
// time.Time.AppendFormat, over the range of Unix nanosecond times.
func TestAppendTimeMatchesFormat(t *testing.T) {
	tss := []int64{0, 1, -1, 999999999, -999999999, 1e9, -1e9, 1490976031691694000,
		951782400e9 - 1, 951782400e9, // 2000-02-29 starts
		4102444800e9 - 1, 4102444800e9, // 2100-01-01
		math.MinInt64, math.MaxInt64, math.MinInt64 + 1, math.MaxInt64 - 1}
	// and a spread of times from 1677 to 2262
	for i := int64(0); i < 4000; i++ {
		tss = append(tss, math.MinInt64/2000*(2000-i)+i*7919*1e9+i*104729)
	}
	for _, ts := range tss {
		want := time.Unix(0, ts).UTC().AppendFormat(nil, "2006-01-02T15:04:05.000000000Z")
		if got := appendTime(nil, ts); string(got) != string(want) {
			t.Errorf("appendTime(%d) = %s, want %s", ts, got, want)
		}
	}
}
