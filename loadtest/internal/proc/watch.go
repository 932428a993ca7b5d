package proc

import "time"

// Snapshot is the CPU and memory of the watched processes, this process
// and the machine at one moment.
type Snapshot struct {
	At        time.Time
	ServerCPU time.Duration
	// PerPID is each watched process's CPU time, in Watch.PIDs order.
	PerPID      []time.Duration
	ServerRSS   int64
	SelfCPU     time.Duration
	MachineBusy time.Duration
	MachineAll  time.Duration
}

// Watch samples a set of server processes (none is fine: only this
// process and the machine are then sampled).
type Watch struct{ PIDs []int }

// Snapshot samples now. Processes that vanished count as zero.
func (w Watch) Snapshot() Snapshot {
	s := Snapshot{At: time.Now(), SelfCPU: SelfCPU(), PerPID: make([]time.Duration, len(w.PIDs))}
	for i, pid := range w.PIDs {
		if c, err := CPUTime(pid); err == nil {
			s.ServerCPU += c
			s.PerPID[i] = c
		}
		if r, err := RSS(pid); err == nil {
			s.ServerRSS += r
		}
	}
	s.MachineBusy, s.MachineAll = MachineCPU()
	return s
}

// Usage is what happened between two snapshots.
type Usage struct {
	Seconds float64 `json:"seconds"`
	// ServerCores and ClientCores are CPU seconds per wall second of the
	// servers and of the harness; MachineBusy is the fraction of all cores
	// busy (everything on the machine, other users included).
	ServerCores float64 `json:"server_cores"`
	// PerServerCores splits ServerCores by watched process (in -pid
	// order) when there are several.
	PerServerCores []float64 `json:"per_server_cores,omitempty"`
	ClientCores    float64   `json:"client_cores"`
	MachineBusy    float64   `json:"machine_busy"`
	// ServerRSS is the servers' resident memory at the end, in bytes.
	ServerRSS int64 `json:"server_rss_bytes"`
}

// Since is the usage from a to b.
func Since(a, b Snapshot) Usage {
	wall := b.At.Sub(a.At).Seconds()
	u := Usage{Seconds: wall, ServerRSS: b.ServerRSS}
	if wall > 0 {
		u.ServerCores = (b.ServerCPU - a.ServerCPU).Seconds() / wall
		if len(a.PerPID) > 1 && len(a.PerPID) == len(b.PerPID) {
			for i := range a.PerPID {
				u.PerServerCores = append(u.PerServerCores, (b.PerPID[i]-a.PerPID[i]).Seconds()/wall)
			}
		}
		u.ClientCores = (b.SelfCPU - a.SelfCPU).Seconds() / wall
	}
	if all := b.MachineAll - a.MachineAll; all > 0 {
		u.MachineBusy = float64(b.MachineBusy-a.MachineBusy) / float64(all)
	}
	return u
}
