package encode

import (
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
