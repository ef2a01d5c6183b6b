package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// CPU limits for serve processes (--process-cpus): each process in a
// cgroup of its own whose CPU bandwidth is capped, as a container's CPU
// limit caps it. On a machine with few cores, that makes the processes,
// not the cores, the bound of the app tier, so that the processes phase
// shows whether the database lets throughput grow with them. Linux only,
// and it needs a writable cpu controller (root): cgroup v2's cpu.max, or
// v1's cpu.cfs_quota_us.

// benchCgroupRoot is where the cgroup file systems are mounted.
const benchCgroupRoot = "/sys/fs/cgroup"

// benchCPUPeriod is the bandwidth period, in microseconds (the kernel's
// default).
const benchCPUPeriod = 100_000

// benchCgroup is the CPU-limited cgroup of one process.
type benchCgroup struct{ dir string }

// benchLimitCPU moves process pid into a new cgroup limited to cpus CPUs.
func benchLimitCPU(pid int, cpus float64) (*benchCgroup, error) {
	quota := int64(cpus * benchCPUPeriod)
	if quota < 1000 {
		return nil, fmt.Errorf("a CPU limit of %g is below the 0.01 CPU the kernel allows", cpus)
	}
	name := "slotline-bench-" + strconv.Itoa(pid)
	var dir string
	var limits [][2]string
	if _, err := os.Stat(filepath.Join(benchCgroupRoot, "cgroup.controllers")); err == nil {
		// cgroup v2: the cpu controller must be enabled for the root's
		// children (writing it again when it is changes nothing).
		if err := os.WriteFile(filepath.Join(benchCgroupRoot, "cgroup.subtree_control"), []byte("+cpu"), 0); err != nil {
			return nil, fmt.Errorf("enable the cpu controller: %w", err)
		}
		dir = filepath.Join(benchCgroupRoot, name)
		limits = [][2]string{{"cpu.max", fmt.Sprintf("%d %d", quota, benchCPUPeriod)}}
	} else {
		dir = filepath.Join(benchCgroupRoot, "cpu", name)
		limits = [][2]string{{"cpu.cfs_period_us", strconv.Itoa(benchCPUPeriod)}, {"cpu.cfs_quota_us", strconv.FormatInt(quota, 10)}}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create the cgroup: %w", err)
	}
	c := &benchCgroup{dir: dir}
	for _, l := range limits {
		if err := os.WriteFile(filepath.Join(dir, l[0]), []byte(l[1]), 0); err != nil {
			return nil, errors.Join(fmt.Errorf("set %s: %w", l[0], err), c.remove())
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return nil, errors.Join(fmt.Errorf("move process %d into the cgroup: %w", pid, err), c.remove())
	}
	return c, nil
}

// remove deletes the cgroup, once its process has exited (the kernel
// can answer EBUSY for a moment after the exit: it is asked again for up
// to a second).
func (c *benchCgroup) remove() error {
	var err error
	for range 20 {
		if err = os.Remove(c.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("remove the cgroup %s: %w", c.dir, err)
}
