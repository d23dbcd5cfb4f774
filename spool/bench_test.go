package spool

import (
	"context"
	"testing"
)

// BenchmarkAppendNext measures one Append, Next and Ack of a batch of
// docsPerBatch documents of about 300 bytes (an encoded packet), on the
// memory path (the reader keeps up) and through the disk (MemBytes < 0).
// ns/doc is the cost per document.
func BenchmarkAppendNext(b *testing.B) {
	const docsPerBatch, docSize = 256, 300
	batch := make([]byte, docsPerBatch*docSize)
	for i := range batch {
		batch[i] = byte('a' + i%26)
	}
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"memory", Options{}},
		{"disk", Options{MemBytes: -1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := Open(b.TempDir(), tc.opt)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := s.Append(batch, docsPerBatch); err != nil {
					b.Fatal(err)
				}
				nb, err := s.Next(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Ack(nb); err != nil {
					b.Fatal(err)
				}
				if i%4096 == 4095 {
					if err := s.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*docsPerBatch), "ns/doc")
			if st := s.Stats(); tc.opt.MemBytes < 0 && st.ToDisk == 0 {
				b.Fatal("nothing written to disk")
			}
		})
	}
}
