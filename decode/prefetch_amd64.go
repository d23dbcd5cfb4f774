package decode

//go:noescape
func prefetch(p *byte)
