package filter

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
)

// Classic BPF opcode fields (linux/filter.h, pcap/bpf.h).
const (
	clsLD   = 0x00
	clsLDX  = 0x01
	clsST   = 0x02
	clsSTX  = 0x03
	clsALU  = 0x04
	clsJMP  = 0x05
	clsRET  = 0x06
	clsMISC = 0x07

	szW = 0x00
	szH = 0x08
	szB = 0x10

	mdIMM = 0x00
	mdABS = 0x20
	mdIND = 0x40
	mdMEM = 0x60
	mdLEN = 0x80
	mdMSH = 0xa0

	aluADD = 0x00
	aluSUB = 0x10
	aluMUL = 0x20
	aluDIV = 0x30
	aluOR  = 0x40
	aluAND = 0x50
	aluLSH = 0x60
	aluRSH = 0x70
	aluNEG = 0x80
	aluMOD = 0x90
	aluXOR = 0xa0

	jmpJA   = 0x00
	jmpJEQ  = 0x10
	jmpJGT  = 0x20
	jmpJGE  = 0x30
	jmpJSET = 0x40

	srcK = 0x00
	srcX = 0x08

	retK = 0x00
	retA = 0x10

	miscTAX = 0x00
	miscTXA = 0x80

	memWords = 16   // BPF_MEMWORDS
	maxInsns = 4096 // BPF_MAXINSNS

	// maxBackJumps bounds the backward jumps one run may take; a program
	// that takes more rejects the packet. libpcap's protochain loop
	// advances through the packet, so it takes at most one per 8 bytes.
	maxBackJumps = 1 << 16
)

// validate checks a program the way libpcap's bpf_validate does, so that
// run can execute it without going out of the program or the scratch
// memory: known opcodes only, jumps inside the program (forward, except
// for the unconditional backward jumps libpcap makes for protochain), scratch
// indexes below 16, no division by a constant 0, and a return at the end.
func validate(p []bpf.RawInstruction) error {
	n := len(p)
	if n == 0 || n > maxInsns {
		return fmt.Errorf("program has %d instructions", n)
	}
	for i, ins := range p {
		bad := func(what string) error {
			return fmt.Errorf("instruction %d (code %#x k %d): %s", i, ins.Op, ins.K, what)
		}
		if ins.Op > 0xff {
			return bad("unknown opcode")
		}
		switch ins.Op & 0x07 {
		case clsLD, clsLDX:
			switch ins.Op {
			case clsLD | szW | mdABS, clsLD | szH | mdABS, clsLD | szB | mdABS,
				clsLD | szW | mdIND, clsLD | szH | mdIND, clsLD | szB | mdIND,
				clsLD | mdIMM, clsLD | szW | mdLEN,
				clsLDX | mdIMM, clsLDX | szW | mdLEN, clsLDX | szB | mdMSH:
			case clsLD | mdMEM, clsLDX | mdMEM:
				if ins.K >= memWords {
					return bad("scratch index out of range")
				}
			default:
				return bad("unknown load")
			}
		case clsST, clsSTX:
			if ins.Op != clsST && ins.Op != clsSTX {
				return bad("unknown store")
			}
			if ins.K >= memWords {
				return bad("scratch index out of range")
			}
		case clsALU:
			if ins.Op&srcX != 0 && ins.Op&0xf0 == aluNEG {
				return bad("unknown ALU op")
			}
			switch ins.Op & 0xf0 {
			case aluADD, aluSUB, aluMUL, aluOR, aluAND, aluLSH, aluRSH, aluNEG, aluXOR:
			case aluDIV, aluMOD:
				if ins.Op&0x08 == srcK && ins.K == 0 {
					return bad("division by constant 0")
				}
			default:
				return bad("unknown ALU op")
			}
		case clsJMP:
			switch ins.Op & 0xf0 {
			case jmpJA:
				if ins.Op != clsJMP|jmpJA {
					return bad("unknown jump")
				}
				// libpcap sign-extends k: "ip6 protochain" jumps back.
				if t := i + 1 + int(int32(ins.K)); t < 0 || t >= n {
					return bad("jump out of program")
				}
			case jmpJEQ, jmpJGT, jmpJGE, jmpJSET:
				if int(ins.Jt) >= n-i-1 || int(ins.Jf) >= n-i-1 {
					return bad("jump out of program")
				}
			default:
				return bad("unknown jump")
			}
		case clsRET:
			if ins.Op != clsRET|retK && ins.Op != clsRET|retA {
				return bad("unknown return")
			}
		case clsMISC:
			if ins.Op != clsMISC|miscTAX && ins.Op != clsMISC|miscTXA {
				return bad("unknown misc op")
			}
		}
	}
	if p[n-1].Op&0x07 != clsRET {
		return errors.New("program does not end with a return")
	}
	return nil
}

// run executes a validated program like libpcap's bpf_filter: pkt is the
// captured bytes, wirelen the original length. It returns 0 to reject.
func run(prog []bpf.RawInstruction, pkt []byte, wirelen uint32) uint32 {
	var a, x uint32
	var mem [memWords]uint32
	backJumps := 0
	buflen := uint32(len(pkt))
	if uint64(len(pkt)) > 0xffffffff {
		buflen = 0xffffffff
	}
	for pc := 0; pc < len(prog); pc++ {
		ins := &prog[pc]
		k := ins.K
		switch ins.Op {
		case clsRET | retK:
			return k
		case clsRET | retA:
			return a

		case clsLD | szW | mdABS:
			if k > buflen || buflen-k < 4 {
				return 0
			}
			a = uint32(pkt[k])<<24 | uint32(pkt[k+1])<<16 | uint32(pkt[k+2])<<8 | uint32(pkt[k+3])
		case clsLD | szH | mdABS:
			if k > buflen || buflen-k < 2 {
				return 0
			}
			a = uint32(pkt[k])<<8 | uint32(pkt[k+1])
		case clsLD | szB | mdABS:
			if k >= buflen {
				return 0
			}
			a = uint32(pkt[k])
		case clsLD | szW | mdIND:
			if k > buflen || x > buflen-k || buflen-(x+k) < 4 {
				return 0
			}
			k += x
			a = uint32(pkt[k])<<24 | uint32(pkt[k+1])<<16 | uint32(pkt[k+2])<<8 | uint32(pkt[k+3])
		case clsLD | szH | mdIND:
			if k > buflen || x > buflen-k || buflen-(x+k) < 2 {
				return 0
			}
			k += x
			a = uint32(pkt[k])<<8 | uint32(pkt[k+1])
		case clsLD | szB | mdIND:
			if k >= buflen || x >= buflen-k {
				return 0
			}
			a = uint32(pkt[k+x])
		case clsLD | szW | mdLEN:
			a = wirelen
		case clsLDX | szW | mdLEN:
			x = wirelen
		case clsLDX | szB | mdMSH:
			if k >= buflen {
				return 0
			}
			x = uint32(pkt[k]&0x0f) << 2
		case clsLD | mdIMM:
			a = k
		case clsLDX | mdIMM:
			x = k
		case clsLD | mdMEM:
			a = mem[k&(memWords-1)]
		case clsLDX | mdMEM:
			x = mem[k&(memWords-1)]
		case clsST:
			mem[k&(memWords-1)] = a
		case clsSTX:
			mem[k&(memWords-1)] = x

		case clsJMP | jmpJA:
			if int32(k) < 0 {
				// Backward jump (libpcap's "ip6 protochain" loop): bound
				// the work on any program.
				if backJumps++; backJumps > maxBackJumps {
					return 0
				}
			}
			pc += int(int32(k))
		case clsJMP | jmpJGT | srcK:
			pc += jump(a > k, ins)
		case clsJMP | jmpJGE | srcK:
			pc += jump(a >= k, ins)
		case clsJMP | jmpJEQ | srcK:
			pc += jump(a == k, ins)
		case clsJMP | jmpJSET | srcK:
			pc += jump(a&k != 0, ins)
		case clsJMP | jmpJGT | srcX:
			pc += jump(a > x, ins)
		case clsJMP | jmpJGE | srcX:
			pc += jump(a >= x, ins)
		case clsJMP | jmpJEQ | srcX:
			pc += jump(a == x, ins)
		case clsJMP | jmpJSET | srcX:
			pc += jump(a&x != 0, ins)

		case clsALU | aluADD | srcX:
			a += x
		case clsALU | aluSUB | srcX:
			a -= x
		case clsALU | aluMUL | srcX:
			a *= x
		case clsALU | aluDIV | srcX:
			if x == 0 {
				return 0
			}
			a /= x
		case clsALU | aluMOD | srcX:
			if x == 0 {
				return 0
			}
			a %= x
		case clsALU | aluAND | srcX:
			a &= x
		case clsALU | aluOR | srcX:
			a |= x
		case clsALU | aluXOR | srcX:
			a ^= x
		case clsALU | aluLSH | srcX:
			a <<= x // Go gives 0 for shifts of 32 or more, as libpcap does
		case clsALU | aluRSH | srcX:
			a >>= x
		case clsALU | aluADD | srcK:
			a += k
		case clsALU | aluSUB | srcK:
			a -= k
		case clsALU | aluMUL | srcK:
			a *= k
		case clsALU | aluDIV | srcK:
			if k == 0 {
				return 0
			}
			a /= k
		case clsALU | aluMOD | srcK:
			if k == 0 {
				return 0
			}
			a %= k
		case clsALU | aluAND | srcK:
			a &= k
		case clsALU | aluOR | srcK:
			a |= k
		case clsALU | aluXOR | srcK:
			a ^= k
		case clsALU | aluLSH | srcK:
			a <<= k
		case clsALU | aluRSH | srcK:
			a >>= k
		case clsALU | aluNEG:
			a = -a

		case clsMISC | miscTAX:
			x = a
		case clsMISC | miscTXA:
			a = x
		default:
			// Not reached for validated programs; reject like libpcap.
			return 0
		}
	}
	return 0
}

// jump returns how many instructions a conditional jump skips.
func jump(cond bool, ins *bpf.RawInstruction) int {
	if cond {
		return int(ins.Jt)
	}
	return int(ins.Jf)
}
