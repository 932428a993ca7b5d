package chat

// QueuedSends is how many sends wait for the committer, so tests can line
// sends up behind a held batch.
func (s *Service) QueuedSends() int {
	s.commit.mu.Lock()
	defer s.commit.mu.Unlock()
	return len(s.commit.queue)
}
