package decode

// Prefetch asks the CPU to start loading the first bytes of a frame that
// will be decoded soon, so that the memory latency overlaps the work on the
// frame before it. It has no effect where the architecture has no prefetch
// instruction, or on an empty frame.
func Prefetch(frame []byte) {
	if len(frame) > 0 {
		prefetch(&frame[0])
	}
}

// PrefetchAt is Prefetch for the two cache lines at p (a table entry about
// to be read rather than a frame).
func PrefetchAt(p *byte) { prefetch(p) }
