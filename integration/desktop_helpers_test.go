package integration

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// What a person sees: an RDP client drawing into a virtual screen that the test
// can read back as a picture, and a judge of whether the picture is a desktop.

// screen is an Xvfb display whose framebuffer the test reads as an XWD file.
type screen struct {
	// display is the X display, such as ":3".
	display string
	// fb is the framebuffer file Xvfb keeps up to date (-fbdir).
	fb string
	// width and height are the screen's size; clients fill it.
	width, height int

	mu      sync.Mutex
	clients []*clientLog
}

// clientLog is one RDP client's output, kept for failure messages
// (syncBuffer is agent_test.go's).
type clientLog struct {
	who string
	out syncBuffer
}

// desktopScreen starts Xvfb (1024x768, 24-bit, black root) on a free display,
// with its framebuffer in a file of the test's; it is killed on cleanup.
func desktopScreen(t *testing.T) *screen {
	t.Helper()
	need(t, "Xvfb")
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := &screen{fb: filepath.Join(dir, "Xvfb_screen0"), width: 1024, height: 768}
	// -displayfd picks a free display and writes its number to fd 3.
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", fmt.Sprintf("%dx%dx24", s.width, s.height),
		"-fbdir", dir, "-nolisten", "tcp", "-br")
	cmd.ExtraFiles = []*os.File{w}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("Xvfb: %v", err)
	}
	w.Close()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case d := <-got:
		if d == "" {
			t.Fatalf("Xvfb did not report a display:\n%s", out.String())
		}
		s.display = ":" + d
	case <-time.After(10 * time.Second):
		t.Fatalf("Xvfb did not start within 10s:\n%s", out.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			s.logClients(t)
		}
	})
	return s
}

// rdpClient is a running xfreerdp.
type rdpClient struct {
	*exec.Cmd
	exited chan struct{} // closed once it has exited and been reaped
}

// exitsWithin reports whether the client exits within limit (0: whether
// it has exited already). An exit is looked for first: a select over it and
// a timer that is already due would pick either at random.
func (c *rdpClient) exitsWithin(limit time.Duration) bool {
	select {
	case <-c.exited:
		return true
	default:
	}
	if limit <= 0 {
		return false
	}
	select {
	case <-c.exited:
		return true
	case <-time.After(limit):
		return false
	}
}

// login starts xfreerdp on the screen, filling it, against 127.0.0.1:port
// with user and password. It is killed and reaped on cleanup; its output shows
// when the test fails.
func (s *screen) login(t *testing.T, port int, user, password string) *rdpClient {
	t.Helper()
	need(t, "xfreerdp")
	c := &clientLog{who: fmt.Sprintf("xfreerdp %s on port %d", user, port)}
	cmd := exec.Command("xfreerdp", "/v:127.0.0.1:"+strconv.Itoa(port), "/u:"+user, "/p:"+password, "/cert:ignore",
		fmt.Sprintf("/size:%dx%d", s.width, s.height))
	// Its own HOME: xfreerdp keeps known hosts and settings there.
	cmd.Env = append(os.Environ(), "DISPLAY="+s.display, "HOME="+t.TempDir())
	cmd.Stdout, cmd.Stderr = &c.out, &c.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("xfreerdp: %v", err)
	}
	s.mu.Lock()
	s.clients = append(s.clients, c)
	s.mu.Unlock()
	rc := &rdpClient{Cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(rc.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-rc.exited })
	return rc
}

func (s *screen) logClients(t *testing.T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		t.Logf("%s said:\n%s", c.who, c.out.String())
	}
}

// shot reads the screen's framebuffer.
func (s *screen) shot(t *testing.T) image.Image {
	t.Helper()
	return s.rgba(t)
}

// rgba is shot with its concrete type.
func (s *screen) rgba(t *testing.T) *image.RGBA {
	t.Helper()
	raw, err := os.ReadFile(s.fb)
	if err != nil {
		t.Fatalf("framebuffer: %v", err)
	}
	img, err := parseXWD(raw)
	if err != nil {
		t.Fatalf("framebuffer %s: %v", s.fb, err)
	}
	return img
}

// parseXWD decodes an XWD (X Window Dump, version 7) ZPixmap of 24 or 32 bits
// a pixel, as Xvfb -fbdir keeps it. The header is 25 big-endian 32-bit fields,
// then the window name, then ncolors 12-byte colormap entries, then the rows;
// the pixels' byte order is the header's byte_order (0 LSBFirst, 1 MSBFirst)
// and their channels are where the header's masks say.
func parseXWD(raw []byte) (*image.RGBA, error) {
	const fields = 25
	if len(raw) < fields*4 {
		return nil, fmt.Errorf("xwd: %d bytes, shorter than a header", len(raw))
	}
	h := make([]uint32, fields)
	for i := range h {
		h[i] = binary.BigEndian.Uint32(raw[i*4:])
	}
	headerSize, version, format := h[0], h[1], h[2]
	width, height := int(h[4]), int(h[5])
	byteOrder, bpp, stride := h[7], int(h[11]), int(h[12])
	masks := [3]uint32{h[14], h[15], h[16]}
	ncolors := int(h[19])
	switch {
	case version != 7:
		return nil, fmt.Errorf("xwd: file version %d; want 7", version)
	case format != 2:
		return nil, fmt.Errorf("xwd: pixmap format %d; want 2 (ZPixmap)", format)
	case bpp != 24 && bpp != 32:
		return nil, fmt.Errorf("xwd: %d bits a pixel; want 24 or 32", bpp)
	case width <= 0 || height <= 0 || width > 1<<14 || height > 1<<14 || stride < width*bpp/8:
		return nil, fmt.Errorf("xwd: bad geometry %dx%d, %d bytes a row", width, height, stride)
	}
	off := int(headerSize) + ncolors*12
	if off < fields*4 || off+stride*height > len(raw) {
		return nil, fmt.Errorf("xwd: %d bytes; the header says %d", len(raw), off+stride*height)
	}
	var shift, width8 [3]int // where each channel sits, and how wide it is
	for i, m := range masks {
		if m == 0 {
			return nil, fmt.Errorf("xwd: colour mask %d is zero", i)
		}
		shift[i] = bits.TrailingZeros32(m)
		width8[i] = bits.OnesCount32(m)
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	n := bpp / 8
	for y := 0; y < height; y++ {
		row := raw[off+y*stride:]
		for x := 0; x < width; x++ {
			p := row[x*n : x*n+n]
			var v uint32
			for i := 0; i < n; i++ {
				b := p[i]
				if byteOrder == 0 { // LSBFirst
					v |= uint32(b) << (8 * i)
				} else {
					v = v<<8 | uint32(b)
				}
			}
			var c [3]uint8
			for i := range c {
				ch := (v & masks[i]) >> shift[i]
				// Scale the channel to 8 bits, whatever its width.
				c[i] = uint8(ch << 8 >> width8[i])
				if width8[i] < 8 && ch == masks[i]>>shift[i] {
					c[i] = 0xff
				}
			}
			img.SetRGBA(x, y, color.RGBA{c[0], c[1], c[2], 0xff})
		}
	}
	return img, nil
}

// Bounds of a drawn desktop. xrdp's own screens are a few flat colours with
// unsmoothed text; a desktop has icons, a panel and antialiased text. Measured
// on 1024x768 with the xrdp image's xfce (Debian 12): xrdp's "login failed"
// dialog over black is 5 colours at mean luminance 43.3; the xfce desktop
// (flat dark blue backdrop, top panel, dock, two icons) is 263 colours at
// 42.6. Luminance cannot tell them apart, so it only rules out a black screen;
// the colour count decides.
const (
	desktopMinColours   = 64   // distinct colours, 4 bits a channel
	desktopMinLuminance = 20.0 // mean of 0..255: not a black screen
)

// drawnDesktop judges whether img shows a desktop rather than nothing, a flat
// colour or a login dialog; why gives the figures either way.
func drawnDesktop(img image.Image) (ok bool, why string) {
	b := img.Bounds()
	seen := map[uint16]int{}
	var lum float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA() // 16 bits a channel
			seen[uint16(r>>12)<<8|uint16(g>>12)<<4|uint16(bl>>12)]++
			lum += 0.299*float64(r>>8) + 0.587*float64(g>>8) + 0.114*float64(bl>>8)
		}
	}
	pixels := b.Dx() * b.Dy()
	if pixels == 0 {
		return false, "an empty picture"
	}
	top := 0
	for _, n := range seen {
		top = max(top, n)
	}
	lum /= float64(pixels)
	why = fmt.Sprintf("%d colours (4 bits a channel; a desktop has at least %d), mean luminance %.1f (at least %.0f), the commonest colour covers %.1f%%",
		len(seen), desktopMinColours, lum, desktopMinLuminance, 100*float64(top)/float64(pixels))
	return len(seen) >= desktopMinColours && lum >= desktopMinLuminance, why
}

// artifactDir is where tests leave pictures for people: $LUCID_RDP_ARTIFACTS,
// or lucid-rdp-artifacts in the temp folder.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LUCID_RDP_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "lucid-rdp-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artefact folder: %v", err)
	}
	return dir
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// savePNG writes img to the artefact folder as TEST-what.png and logs where.
func savePNG(t *testing.T, img image.Image, what string) string {
	t.Helper()
	p := filepath.Join(artifactDir(t), unsafeName.ReplaceAllString(t.Name(), "_")+"-"+what+".png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatalf("png: %v", err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatalf("png: %v", err)
	}
	t.Logf("screen shot: %s", p)
	return p
}

// tag tells the test's screens apart in artefact names: "-display12".
func (s *screen) tag() string { return "-display" + strings.TrimPrefix(s.display, ":") }

// waitDesktop polls the screen until drawnDesktop holds, then until the
// picture settles (two shots alike, for at most 10 s more: panels slide in
// after the icons), and saves it for people to look at. After limit it saves
// the last picture and fails with its figures.
func (s *screen) waitDesktop(t *testing.T, limit time.Duration) image.Image {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		img := s.rgba(t)
		ok, why := drawnDesktop(img)
		if ok {
			settle := time.Now().Add(10 * time.Second)
			for time.Now().Before(settle) {
				time.Sleep(500 * time.Millisecond)
				next := s.rgba(t)
				if ok, _ := drawnDesktop(next); !ok {
					break // it was drawn; keep the picture that shows it
				}
				same := bytes.Equal(next.Pix, img.Pix)
				img = next
				if same {
					break
				}
			}
			_, why = drawnDesktop(img)
			t.Logf("desktop drawn: %s", why)
			savePNG(t, img, "desktop"+s.tag())
			return img
		}
		if time.Now().After(deadline) {
			savePNG(t, img, "no-desktop"+s.tag())
			t.Fatalf("no desktop on the screen within %s: %s", limit, why)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// noDesktopFor fails the test if the screen shows a desktop at any poll
// within d (for logins that must not get one); it saves the last picture.
func (s *screen) noDesktopFor(t *testing.T, d time.Duration) image.Image {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		img := s.shot(t)
		if ok, why := drawnDesktop(img); ok {
			savePNG(t, img, "unexpected-desktop"+s.tag())
			t.Fatalf("the screen shows a desktop, and it must not: %s", why)
		}
		if time.Now().After(deadline) {
			_, why := drawnDesktop(img)
			t.Logf("no desktop for %s: %s", d, why)
			savePNG(t, img, "no-desktop"+s.tag())
			return img
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestDesktopScreen checks the screen helpers against a real Xvfb: a root
// window painted one known colour reads back as exactly that colour in every
// pixel (so the XWD header, byte order and masks are read right), and a flat
// screen is not a desktop.
func TestDesktopScreen(t *testing.T) {
	need(t, "xsetroot")
	s := desktopScreen(t)
	if ok, why := drawnDesktop(s.shot(t)); ok {
		t.Errorf("a black screen passes for a desktop: %s", why)
	}
	cmd := exec.Command("xsetroot", "-solid", "#ff8010")
	cmd.Env = append(os.Environ(), "DISPLAY="+s.display)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xsetroot: %v\n%s", err, out)
	}
	want := color.RGBA{0xff, 0x80, 0x10, 0xff}
	var img image.Image
	waitFor(t, 5*time.Second, "the root window to turn orange", func() bool {
		img = s.shot(t)
		return img.At(0, 0) == want
	})
	if b := img.Bounds(); b.Dx() != s.width || b.Dy() != s.height {
		t.Errorf("shot is %v; want %dx%d", b, s.width, s.height)
	}
	for _, p := range []image.Point{{0, 0}, {s.width - 1, 0}, {s.width / 2, s.height / 2}, {0, s.height - 1}, {s.width - 1, s.height - 1}} {
		if got := img.At(p.X, p.Y); got != want {
			t.Errorf("pixel %v is %v; want %v", p, got, want)
		}
	}
	if ok, why := drawnDesktop(img); ok {
		t.Errorf("a flat orange screen passes for a desktop: %s", why)
	}
}
