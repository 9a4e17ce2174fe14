package spec

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a duration such as "30s", "15m", "1h30m" or "0".
// Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write a number and a unit, such as \"30s\", \"15m\" or \"1h\"", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative; a duration must be zero or more", s)
	}
	return d, nil
}

// sizeUnits are the units ParseSize accepts, longest first so that "MiB" is not
// read as "B".
var sizeUnits = []struct {
	suffix string
	factor float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// ParseSize reads a byte size such as "512MiB", "2GiB", "1.5GB" or "1048576B".
// Binary units (KiB, MiB, GiB, TiB) are powers of 1024, decimal units (KB, MB,
// GB, TB) powers of 1000.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	for _, u := range sizeUnits {
		num, ok := strings.CutSuffix(t, u.suffix)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || f < 0 || f*u.factor > 1<<62 {
			break
		}
		return int64(f * u.factor), nil
	}
	return 0, fmt.Errorf("%q is not a size; write a number and a unit, such as \"512MiB\" or \"2GiB\" (units: B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s)
}

// FormatSize writes n bytes in the largest binary unit that keeps it whole,
// so that ParseSize(FormatSize(n)) == n.
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		factor int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.factor == 0 {
			return strconv.FormatInt(n/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
