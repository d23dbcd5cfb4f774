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
