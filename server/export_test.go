package server

// Settled reports whether every admitted wait is held: none is between
// its admission and its first state (a Watch still reading), when a job's
// change could still be taken for its first state.
func Settled(s *Server) bool {
	s.holds.mu.Lock()
	live := s.holds.live
	s.holds.mu.Unlock()
	return s.waiting.Load() == int64(live)
}
