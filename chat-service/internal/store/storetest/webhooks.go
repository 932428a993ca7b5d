package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"
)

// testWebhooks: webhooks are stored by their token's hash, listed by room,
// capped per room, deleted alone (their messages stay) or with their room;
// a webhook's post goes through CreateMessages as user 0, checked against
// its creator's membership, and reads back naming the webhook.
func testWebhooks(t *testing.T, target sqldb.Target) {
	ctx := context.Background()
	st := Open(t, target)
	room := mustRoom(t, st, "hooks", chat.KindPrivate, 1) // user 1 owns it
	nw := func(name, hash string) chat.NewWebhook {
		return chat.NewWebhook{RoomID: room.ID, Name: name, TokenHash: hash, CreatedBy: 1, CreatorName: "owner", At: t0}
	}
	ci, err := st.CreateWebhook(ctx, nw("CI", chat.HashWebhookToken("t-ci")), 3)
	if err != nil {
		t.Fatal(err)
	}
	want := chat.Webhook{ID: ci.ID, RoomID: room.ID, Name: "CI", CreatedBy: 1, CreatedByUsername: "owner", CreatedAt: t0.Truncate(1e6)}
	if ci != want {
		t.Fatalf("created %+v, want %+v", ci, want)
	}
	if got, err := st.WebhookByTokenHash(ctx, chat.HashWebhookToken("t-ci")); err != nil || got != ci {
		t.Fatalf("by hash: %+v %v", got, err)
	}
	if _, err := st.WebhookByTokenHash(ctx, chat.HashWebhookToken("t-other")); kindOf(err) != apperr.KindNotFound {
		t.Fatalf("unknown hash: %v, want 404", err)
	}
	if _, err := st.CreateWebhook(ctx, nw("dup", chat.HashWebhookToken("t-ci")), 3); err == nil {
		t.Fatal("a second webhook with the same token hash was stored")
	}
	if _, err := st.CreateWebhook(ctx, chat.NewWebhook{RoomID: 9999, Name: "x", TokenHash: "h", CreatedBy: 1, At: t0}, 3); kindOf(err) != apperr.KindNotFound {
		t.Fatalf("webhook of a missing room: %v, want 404", err)
	}
	deploy, err := st.CreateWebhook(ctx, nw("Deploys", chat.HashWebhookToken("t-deploy")), 3)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := st.Webhooks(ctx, room.ID); err != nil || len(list) != 2 || list[0] != ci || list[1] != deploy {
		t.Fatalf("list %+v %v", list, err)
	}
	if list, err := st.Webhooks(ctx, 9999); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("list of a missing room: %#v %v, want []", list, err)
	}

	// The cap holds when creations race (PostgreSQL's room row lock).
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.CreateWebhook(ctx, nw("racer", chat.HashWebhookToken("race"+string(rune('a'+i)))), 3)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch e, _ := apperr.From(err); {
		case err == nil:
			ok++
		case e == nil || e.Code != "webhook_limit":
			t.Fatalf("racing creation: %v, want nil or 409 webhook_limit", err)
		}
	}
	if list, _ := st.Webhooks(ctx, room.ID); ok != 1 || len(list) != 3 {
		t.Fatalf("%d racing creations succeeded, %d webhooks; want 1 and the cap of 3", ok, len(list))
	}

	// A post: user 0, its creator's membership checked in the transaction.
	member := func(r chat.Room, m *chat.Member) error {
		if m == nil {
			return apperr.NotFound("room_not_found", "room not found")
		}
		return nil
	}
	post := chat.NewMessage{RoomID: room.ID, UserID: 0, Username: "Build bot", Body: "build passed",
		ClientMsgID: "hook:1:k1", Webhook: &chat.WebhookRef{ID: ci.ID, Name: "CI"}, CheckUserID: 1, At: t0}
	res, err := st.CreateMessages(ctx, []chat.NewMessage{post}, member)
	if err != nil || res[0].Err != nil || !res[0].Created {
		t.Fatalf("post: %+v %v", res, err)
	}
	msg := res[0].Message
	if msg.UserID != 0 || msg.Username != "Build bot" || msg.Webhook == nil || *msg.Webhook != (chat.WebhookRef{ID: ci.ID, Name: "CI"}) {
		t.Fatalf("stored post %+v", msg)
	}
	again, err := st.CreateMessages(ctx, []chat.NewMessage{post}, member)
	if err != nil || again[0].Created || again[0].Message.ID != msg.ID || again[0].Message.Webhook == nil {
		t.Fatalf("retry: %+v %v, want message %d again", again, err, msg.ID)
	}
	stranger := post
	stranger.ClientMsgID, stranger.CheckUserID = "", 42
	if res, err := st.CreateMessages(ctx, []chat.NewMessage{stranger}, member); err != nil || kindOf(res[0].Err) != apperr.KindNotFound {
		t.Fatalf("post of a non-member's webhook: %+v %v, want refused", res, err)
	}
	if got, err := st.Message(ctx, msg.ID); err != nil || got.Webhook == nil || got.Webhook.ID != ci.ID || got.UserID != 0 {
		t.Fatalf("read back %+v %v", got, err)
	}
	person, _, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: room.ID, UserID: 1, Username: "owner", Body: "thanks", At: t0})
	if err != nil || person.Webhook != nil {
		t.Fatalf("a person's message %+v %v, want no webhook", person, err)
	}
	// Delete the webhook: gone, its message stays as it was.
	if err := st.DeleteWebhook(ctx, ci.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteWebhook(ctx, ci.ID); kindOf(err) != apperr.KindNotFound {
		t.Fatalf("second delete: %v, want 404", err)
	}
	if _, err := st.Webhook(ctx, ci.ID); kindOf(err) != apperr.KindNotFound {
		t.Fatalf("deleted webhook: %v, want 404", err)
	}
	if _, err := st.WebhookByTokenHash(ctx, chat.HashWebhookToken("t-ci")); kindOf(err) != apperr.KindNotFound {
		t.Fatalf("deleted webhook's token: %v, want 404", err)
	}
	msgs, _, err := st.Messages(ctx, chat.MessageFilter{RoomID: room.ID, Limit: 10})
	if err != nil || len(msgs) != 2 || msgs[0].Webhook == nil || msgs[0].Webhook.Name != "CI" || msgs[1].Webhook != nil {
		t.Fatalf("history after the delete: %+v %v", msgs, err)
	}
	// Deleting the room deletes its webhooks.
	if err := st.DeleteRoom(ctx, room.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Webhook(ctx, deploy.ID); kindOf(err) != apperr.KindNotFound {
		t.Fatalf("webhook of a deleted room: %v, want 404", err)
	}
}
