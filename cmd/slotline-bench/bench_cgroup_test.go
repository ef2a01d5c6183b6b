package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBenchLimitCPU puts a real child process in a CPU-limited cgroup
// (--process-cpus) and checks that the kernel has it there, with the
// limit asked for, and that the cgroup goes once the process has exited.
func TestBenchLimitCPU(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("under CI the CPU limit of --process-cpus must be tested: run as root")
		}
		t.Skip("needs root to create cgroups")
	}
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	c, err := benchLimitCPU(child.Process.Pid, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.ReadFile("/proc/" + strconv.Itoa(child.Process.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(c.dir)
	if !strings.Contains(string(in), "/"+name+"\n") {
		t.Errorf("the child's cgroups are\n%s\nwant %s among them", in, name)
	}
	want, file := "25000 100000", "cpu.max"
	if _, err := os.Stat(filepath.Join(c.dir, file)); err != nil {
		want, file = "25000", "cpu.cfs_quota_us"
	}
	got, err := os.ReadFile(filepath.Join(c.dir, file))
	if err != nil || strings.TrimSpace(string(got)) != want {
		t.Errorf("%s = %q (%v), want %q", file, got, err, want)
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	if err := c.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Errorf("the cgroup %s is still there (%v)", c.dir, err)
	}
	if _, err := benchLimitCPU(child.Process.Pid, 0.001); err == nil {
		t.Error("a limit below 0.01 CPU was accepted")
	}
}
