//go:build !linux

package hugepages

import "time"

// Advisor does nothing outside Linux.
type Advisor struct{}

// Mode returns "" outside Linux: no transparent huge pages.
func Mode() string { return "" }

// Start returns an Advisor that does nothing outside Linux.
func Start(time.Duration, int) *Advisor { return &Advisor{} }

// Stop does nothing outside Linux.
func (a *Advisor) Stop() {}

// Status says huge pages are unavailable outside Linux.
func (a *Advisor) Status() string { return "unavailable (not Linux)" }
