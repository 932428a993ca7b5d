package chat

import "context"

// Pin pins (pin=true) or unpins a message of a room; members only, not in
// archived rooms. The message must be a message of that room that is not
// deleted: anything else, a message of a room the actor cannot read
// included, is 404 message_not_found. Pinning a pinned message, or
// unpinning one that is not pinned, answers the message and publishes
// nothing; a change goes out as message_updated.
func (s *Service) Pin(ctx context.Context, a Actor, roomID, messageID int64, pin bool) (Message, error) {
	room, m, err := s.access(ctx, a, roomID)
	if err != nil {
		return Message{}, err
	}
	if messageID <= 0 {
		return Message{}, errMessageNotFound
	}
	if m == nil {
		return Message{}, errNotMember
	}
	if room.Archived {
		return Message{}, errArchived
	}
	var (
		msg     Message
		changed bool
	)
	if pin {
		msg, changed, err = s.store.PinMessage(ctx, roomID, messageID, UserRef{UserID: a.UserID, Username: a.Username}, s.at())
	} else {
		msg, changed, err = s.store.UnpinMessage(ctx, roomID, messageID)
	}
	if err != nil {
		return Message{}, err
	}
	if changed {
		s.publish(ctx, Event{Type: EventMessageUpdated, RoomID: msg.RoomID,
			Frame: MessageFrame{Type: EventMessageUpdated, Message: msg}})
	}
	return msg, nil
}

// Pins lists a room's pinned messages, newest pin first, to anyone who may
// read the room.
func (s *Service) Pins(ctx context.Context, a Actor, roomID int64) ([]Message, error) {
	if _, _, err := s.access(ctx, a, roomID); err != nil {
		return nil, err
	}
	return s.store.Pins(ctx, roomID)
}
