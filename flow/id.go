package flow

// idAlphabet is base64url's alphabet (RFC 4648 §5).
const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// encodeID writes b in unpadded base64url into id, as
// base64.RawURLEncoding.Encode does, without its general loop: a flow
// starts every few dozen packets.
func encodeID(id *[22]byte, b *[16]byte) {
	for i := range 5 {
		v := uint(b[3*i])<<16 | uint(b[3*i+1])<<8 | uint(b[3*i+2])
		id[4*i] = idAlphabet[v>>18&0x3f]
		id[4*i+1] = idAlphabet[v>>12&0x3f]
		id[4*i+2] = idAlphabet[v>>6&0x3f]
		id[4*i+3] = idAlphabet[v&0x3f]
	}
	id[20] = idAlphabet[b[15]>>2]
	id[21] = idAlphabet[b[15]<<4&0x3f]
}
