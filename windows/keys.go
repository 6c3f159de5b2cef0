package windows

import "hash/maphash"

// keyIndex finds a key's entry. It maps a 64-bit hash of the key to the
// entry, which holds the key: a slot of 8 + 8 bytes instead of a string
// map's 16 + 8, about 10 bytes less per key held (the key itself is kept
// once, in the entry). Keys whose hash another key already holds — with a
// 64-bit hash, almost never — go to a string map beside it.
//
// Not safe for concurrent use: the engine's goroutine owns it.
type keyIndex[S any] struct {
	hash   func(string) uint64
	byHash map[uint64]*entry[S]
	clash  map[string]*entry[S] // keys whose hash is taken in byHash; nil while none
}

func newKeyIndex[S any]() keyIndex[S] {
	seed := maphash.MakeSeed()
	return keyIndex[S]{
		hash:   func(s string) uint64 { return maphash.String(seed, s) },
		byHash: make(map[uint64]*entry[S]),
	}
}

func (x *keyIndex[S]) len() int { return len(x.byHash) + len(x.clash) }

func (x *keyIndex[S]) get(key string) *entry[S] {
	en := x.byHash[x.hash(key)]
	if en == nil || en.key == key {
		return en
	}
	return x.clash[key] // nil map: nil
}

// put adds en under en.key, replacing the entry of that key if any.
func (x *keyIndex[S]) put(en *entry[S]) {
	h := x.hash(en.key)
	if cur := x.byHash[h]; cur != nil && cur.key != en.key {
		if x.clash == nil {
			x.clash = make(map[string]*entry[S])
		}
		x.clash[en.key] = en
		return
	}
	x.byHash[h] = en
}

// del removes en (if it is the entry held for its key).
func (x *keyIndex[S]) del(en *entry[S]) {
	h := x.hash(en.key)
	if x.byHash[h] != en {
		if x.clash[en.key] == en {
			delete(x.clash, en.key)
		}
		return
	}
	delete(x.byHash, h)
	// A key of the same hash waiting beside moves in.
	for k, c := range x.clash {
		if x.hash(k) == h {
			x.byHash[h] = c
			delete(x.clash, k)
			break
		}
	}
}

// all calls fn for every entry, in no particular order, until it fails.
func (x *keyIndex[S]) all(fn func(*entry[S]) error) error {
	for _, en := range x.byHash {
		if err := fn(en); err != nil {
			return err
		}
	}
	for _, en := range x.clash {
		if err := fn(en); err != nil {
			return err
		}
	}
	return nil
}
