package simnet

import "math/bits"

// event is one queue entry: 16 bytes, no pointers. Events are ordered by
// (t, key); key carries the global insertion sequence number in its high bits,
// so ties in t are broken by insertion order and the low bits (the payload
// reference) never decide anything.
type event struct {
	t   int64  // virtual time in ns
	key uint64 // seq<<seqShift | kindPacket? | slab index
}

const (
	refBits    = 27                   // slab index bits: 134M pending entries per slab
	refMask    = 1<<refBits - 1       // mask of the slab index
	kindPacket = uint64(1) << refBits // set: packet arrival; clear: timer
	seqShift   = refBits + 1          // sequence number lives above the kind bit
	maxSeq     = 1<<(64-seqShift) - 1 // 68.7 billion events per run
)

// before reports whether a sorts before b.
func (a event) before(b event) bool {
	return a.t < b.t || (a.t == b.t && a.key < b.key)
}

// Default geometry of the calendar queue: 2^16 buckets of 2^20 ns (1.05 ms)
// give a 68.7 s horizon, longer than every Dispersy timer; later events wait
// in an overflow heap.
const (
	defaultBucketShift = 20
	defaultBucketBits  = 16
)

// queue is a calendar (bucket) queue over virtual time that pops events in
// exact (t, seq) order.
//
// Buckets cover 2^shift ns each; a wheel of 2^nbits buckets holds the events
// whose bucket lies in (cb, cb+nb), where cb is the bucket being drained.
// Events further out wait in the overflow heap; events that land in the
// current bucket (or, between runs, before it) go to the small "late" heap.
// A wheel bucket is a linked list of fixed-size chunks from a shared pool,
// so memory follows the number of pending events, not the wheel's size.
// When the current bucket runs dry, the queue moves to the next non-empty
// bucket (found through a bitmap), copies its events (after any overflow
// events of that bucket) into cur and sorts them with a stable radix sort
// on the offset within the bucket. Pushes are O(1), pops O(1) amortised
// plus the late heap's O(log k), with mostly sequential memory access.
//
// Why stable sorting by time alone gives (t, seq) order: an event goes to
// overflow only if its bucket is beyond the horizon when pushed, and the
// horizon only moves forward, so all overflow events of a bucket were
// pushed before all its wheel events; overflow events come out of their
// heap in (t, seq) order and a chunk list keeps push order.
type queue struct {
	shift  uint
	nb     int64 // number of buckets (power of two)
	mask   int64
	head   []int32  // first chunk of each bucket, -1 if empty
	tail   []int32  // last chunk of each bucket
	bitmap []uint64 // bit s set: bucket slot s is non-empty
	wheelN int      // events held in the wheel

	chunks     []chunk
	freeChunks []int32

	cb   int64   // absolute index of the current bucket
	cur  []event // sorted events of bucket cb
	pos  int     // next unread entry of cur
	tmp  []event // radix sort scratch
	late []event // binary heap: events for buckets <= cb pushed after cb became current
	over []event // binary heap: events beyond the wheel's horizon

	n int // total pending events
}

// chunkLen events per chunk: 256 B of events plus a link.
const chunkLen = 16

type chunk struct {
	ev   [chunkLen]event
	next int32
	n    int32
}

func newQueue(shift, nbits uint) *queue {
	nb := int64(1) << nbits
	q := &queue{
		shift:  shift,
		nb:     nb,
		mask:   nb - 1,
		head:   make([]int32, nb),
		tail:   make([]int32, nb),
		bitmap: make([]uint64, (nb+63)/64),
		cb:     -1,
	}
	for i := range q.head {
		q.head[i] = -1
		q.tail[i] = -1
	}
	return q
}

// Len returns the number of pending events.
func (q *queue) Len() int { return q.n }

// push adds e; e.t must be >= the time of the last popped event.
func (q *queue) push(e event) {
	q.n++
	b := e.t >> q.shift
	switch {
	case b <= q.cb:
		heapPush(&q.late, e)
	case b-q.cb < q.nb:
		s := b & q.mask
		c := q.tail[s]
		if c < 0 || q.chunks[c].n == chunkLen {
			nc := q.newChunk()
			if c < 0 {
				q.head[s] = nc
				q.bitmap[s>>6] |= 1 << uint(s&63)
			} else {
				q.chunks[c].next = nc
			}
			q.tail[s] = nc
			c = nc
		}
		ch := &q.chunks[c]
		ch.ev[ch.n] = e
		ch.n++
		q.wheelN++
	default:
		heapPush(&q.over, e)
	}
}

func (q *queue) newChunk() int32 {
	var c int32
	if k := len(q.freeChunks); k > 0 {
		c = q.freeChunks[k-1]
		q.freeChunks = q.freeChunks[:k-1]
	} else {
		c = int32(len(q.chunks))
		q.chunks = append(q.chunks, chunk{})
	}
	q.chunks[c].next = -1
	q.chunks[c].n = 0
	return c
}

// popUntil removes and returns the smallest event if its time is <= limit.
func (q *queue) popUntil(limit int64) (event, bool) {
	for {
		if q.pos < len(q.cur) {
			e := q.cur[q.pos]
			if len(q.late) > 0 && q.late[0].before(e) {
				e = q.late[0]
				if e.t > limit {
					return event{}, false
				}
				heapPop(&q.late)
				q.n--
				return e, true
			}
			if e.t > limit {
				return event{}, false
			}
			q.pos++
			q.n--
			return e, true
		}
		if len(q.late) > 0 {
			e := q.late[0]
			if e.t > limit {
				return event{}, false
			}
			heapPop(&q.late)
			q.n--
			return e, true
		}
		if !q.advance(limit) {
			return event{}, false
		}
	}
}

// advance makes the next non-empty bucket current, unless it starts after
// limit or there is none. It is called only when cur and late are empty.
func (q *queue) advance(limit int64) bool {
	next := int64(-1)
	if q.wheelN > 0 {
		next = q.nextWheel()
	}
	if len(q.over) > 0 {
		if ob := q.over[0].t >> q.shift; next < 0 || ob < next {
			next = ob
		}
	}
	if next < 0 || next<<q.shift > limit {
		return false
	}
	q.cb = next
	cur := q.cur[:0]
	q.pos = 0
	for len(q.over) > 0 && q.over[0].t>>q.shift == next {
		cur = append(cur, heapPop(&q.over))
	}
	if s := next & q.mask; q.head[s] >= 0 {
		for c := q.head[s]; c >= 0; {
			ch := &q.chunks[c]
			cur = append(cur, ch.ev[:ch.n]...)
			q.wheelN -= int(ch.n)
			q.freeChunks = append(q.freeChunks, c)
			c = ch.next
		}
		q.head[s], q.tail[s] = -1, -1
		q.bitmap[s>>6] &^= 1 << uint(s&63)
	}
	q.cur = q.sortBucket(cur, next<<q.shift)
	return true
}

// nextWheel returns the absolute index of the first non-empty wheel bucket
// after cb. The wheel must not be empty.
func (q *queue) nextWheel() int64 {
	start := (q.cb + 1) & q.mask
	nw := int64(len(q.bitmap))
	w := start >> 6
	word := q.bitmap[w] & (^uint64(0) << uint(start&63))
	for i := int64(0); i <= nw; i++ {
		if word != 0 {
			s := w<<6 | int64(bits.TrailingZeros64(word))
			return q.cb + 1 + (s-start)&q.mask
		}
		w = (w + 1) & (nw - 1)
		word = q.bitmap[w]
	}
	panic("simnet: calendar queue bitmap out of sync")
}

// radixBits is the digit width of the bucket sort.
const radixBits = 8

// sortBucket stably sorts the events of the bucket starting at base by
// time (see the queue comment for why that is (t, seq) order) and returns
// the sorted slice, which may be s or the scratch buffer (the other one
// becomes the new scratch).
func (q *queue) sortBucket(s []event, base int64) []event {
	if len(s) <= 32 {
		insertionSort(s)
		return s
	}
	if cap(q.tmp) < len(s) {
		q.tmp = make([]event, len(s), 2*len(s))
	}
	src, dst := s, q.tmp[:len(s)]
	for d := uint(0); d < q.shift; d += radixBits {
		var cnt [1 << radixBits]int32
		for i := range src {
			cnt[uint64(src[i].t-base)>>d&(1<<radixBits-1)]++
		}
		if int(cnt[uint64(src[0].t-base)>>d&(1<<radixBits-1)]) == len(src) {
			continue // every event has the same digit
		}
		sum := int32(0)
		for i := range cnt {
			c := cnt[i]
			cnt[i] = sum
			sum += c
		}
		for _, e := range src {
			k := uint64(e.t-base) >> d & (1<<radixBits - 1)
			dst[cnt[k]] = e
			cnt[k]++
		}
		src, dst = dst, src
	}
	q.tmp = dst[:0]
	return src
}

// insertionSort sorts a short run of events by (t, key).
func insertionSort(s []event) {
	for i := 1; i < len(s); i++ {
		e := s[i]
		j := i
		for j > 0 && e.before(s[j-1]) {
			s[j] = s[j-1]
			j--
		}
		s[j] = e
	}
}

// heapPush adds e to the binary min-heap h.
func heapPush(h *[]event, e event) {
	s := append(*h, e)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !e.before(s[p]) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = e
	*h = s
}

// heapPop removes and returns the minimum of the non-empty binary heap h.
func heapPop(h *[]event) event {
	s := *h
	top := s[0]
	n := len(s) - 1
	last := s[n]
	s = s[:n]
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && s[r].before(s[c]) {
			c = r
		}
		if !s[c].before(last) {
			break
		}
		s[i] = s[c]
		i = c
	}
	if n > 0 {
		s[i] = last
	}
	*h = s
	return top
}
