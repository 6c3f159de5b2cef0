//go:build race

package simulator

// raceEnabled: the race detector slows generation ~10×; the statistical
// tests, which need thousands of leads and test no concurrency, skip.
const raceEnabled = true
