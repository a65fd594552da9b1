package chunk

import "testing"

func TestHoldRelease(t *testing.T) {
	c := Get(10)
	if len(c.B) != 10 {
		t.Fatalf("len %d", len(c.B))
	}
	c.Hold()
	c.Release()
	c.Release()
	defer func() {
		if recover() == nil {
			t.Fatal("a third release did not panic")
		}
	}()
	c.Release()
}

func TestLargeChunksAreNotPooled(t *testing.T) {
	c := Get(Size + 1)
	if len(c.B) != Size+1 || c.pooled {
		t.Fatalf("chunk of %d, pooled %v", len(c.B), c.pooled)
	}
	c.Release()
}
