package xrdpconf

import (
	"strings"
	"testing"
	"time"
)

// TestSesmanINI: the server's port, display block and policy reach
// sesman.ini; a max of 0 never does (MaxSessions=0 denies every login), and an
// idle limit is never there: the agent enforces idle_timeout itself.
func TestSesmanINI(t *testing.T) {
	for _, tc := range []struct {
		s    Sesman
		want []string
	}{
		{Sesman{ListenPort: 3401, DisplayOffset: 120, MaxSessions: 2, DisconnectedTimeout: 10 * time.Minute, LogFile: "/s/log"},
			[]string{"ListenPort=3401", "X11DisplayOffset=120", "MaxSessions=2", "IdleTimeLimit=0", "KillDisconnected=true", "DisconnectedTimeLimit=600", "LogFile=/s/log", "AllowRootLogin=false"}},
		{Sesman{ListenPort: 3402, DisplayOffset: 100, MaxSessions: 0},
			[]string{"MaxSessions=1", "IdleTimeLimit=0", "KillDisconnected=false", "DisconnectedTimeLimit=0"}},
	} {
		ini := string(tc.s.INI("desk-1"))
		for _, w := range tc.want {
			if !strings.Contains(ini, "\n"+w+"\n") {
				t.Errorf("%+v: sesman.ini lacks %q", tc.s, w)
			}
		}
	}
}
