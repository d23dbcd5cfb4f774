package encode

// NoShapeCache turns the shape cache of e off, for tests outside the
// package that compare both ways.
func NoShapeCache(e *Encoder) { e.noShapes = true }
