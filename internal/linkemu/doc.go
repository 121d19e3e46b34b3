// Package linkemu runs the kernel's real TCP and UDP over an emulated
// cellular link, for tests and benchmarks of the agent's uplink.
//
// The kernels this project tests on have no netem qdisc, so the link is
// emulated in the test process instead. A Link joins two network
// namespaces (or one and the process's own) with a pair of TUN devices,
// one in each, holding the two addresses of a /30 in 10.77.0.0/16
// (platform first, then handset) with routes to each other only. The Link
// holds both devices' files: what the kernel sends into one end is read by
// the Link, put through that direction's Profile, and written into the
// other end when due. The TUN devices are created here and then moved into
// their namespaces; a TUN file keeps working after its device moves.
//
// Each direction is a FIFO. A packet's due time is fixed when it arrives
// (blackout, tail drop at the Rate queue, airtime, random loss, delay and
// jitter, never before the packet ahead), so the only waiting is for the
// head of the queue: ppoll(2) with a high-resolution timeout, no polling
// and no millisecond rounding. A packet due at once with nothing ahead of
// it is written by the thread that read it. The threads that read and
// write the devices run at real-time priority, so that a machine busy with
// other tests does not turn into extra delay on the link.
//
// NewNamespace makes namespaces for the ends, whose Listen, ListenPacket
// and Dial create sockets inside them from the test process and whose
// Command runs a program inside them. Everything is named with the
// process id, so test binaries running in parallel do not collide, and
// Close removes what was made, so both fit t.Cleanup. One thing stays: an
// unreachable route for 10.77.0.0/16 in the process's namespace, so that
// no packet for a closed link leaves the machine. It all needs root.
package linkemu
