package nn

// Dropout masks are a pure function of (seed, key, stream, index): the
// same step of a resumed run draws the same mask, and backward recomputes
// the mask instead of storing it.

// Rand32 is a counter-based hash (splitmix64 finaliser over the mixed
// inputs) giving a uniform 32-bit value.
func Rand32(seed, key, stream uint64, index uint64) uint32 {
	z := seed*0x9E3779B97F4A7C15 ^ key*0xBF58476D1CE4E5B9 ^ stream*0x94D049BB133111EB ^ index
	z += 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	z ^= z >> 31
	return uint32(z >> 32)
}

// Dropout describes one dropout site for one step.
type Dropout struct {
	P                 float32 // drop probability; 0 disables
	Seed, Key, Stream uint64
}

// Keep reports whether element index survives, and the factor 1/(1-p).
func (d Dropout) threshold() uint32 { return uint32(float64(d.P) * 4294967296.0) }

// Active reports whether the site drops anything.
func (d Dropout) Active() bool { return d.P > 0 }

// Apply multiplies x [n] by the mask/(1-p) in place; index i of x is element
// offset+i of the site.
func (d Dropout) Apply(x []float32, offset int) {
	if d.P <= 0 {
		return
	}
	th, scale := d.threshold(), 1/(1-d.P)
	Parallel(len(x), 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if Rand32(d.Seed, d.Key, d.Stream, uint64(offset+i)) < th {
				x[i] = 0
			} else {
				x[i] *= scale
			}
		}
	})
}

// ResidualForward writes y = x + dropout(branch).
//
//	x, branch: [n] → y: [n] (writes)
func ResidualForward(y, x, branch []float32, d Dropout) {
	th, scale := d.threshold(), 1/(1-d.P)
	Parallel(len(x), 2, func(lo, hi int) {
		if d.P <= 0 {
			for i := lo; i < hi; i++ {
				y[i] = x[i] + branch[i]
			}
			return
		}
		for i := lo; i < hi; i++ {
			if Rand32(d.Seed, d.Key, d.Stream, uint64(i)) >= th {
				y[i] = x[i] + branch[i]*scale
			} else {
				y[i] = x[i]
			}
		}
	})
}

// ResidualBackward writes dbranch = dropout'(dy); dx of the residual is dy
// itself, so the caller keeps using dy.
//
//	dy: [n] → dbranch: [n] (writes)
func ResidualBackward(dbranch, dy []float32, d Dropout) {
	if d.P <= 0 {
		copy(dbranch, dy)
		return
	}
	copy(dbranch, dy)
	d.Apply(dbranch, 0)
}
