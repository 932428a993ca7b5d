package e2e

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestBrowserGettingStarted walks the path docs/GETTING-STARTED.md
// describes, in a real browser, and takes that document's screenshots: the
// first admin signs in with the generated password and replaces it, the team signs up, the admin opens the first room
// and invites them, and the first messages flow. With
// PARLEY_UPDATE_SCREENSHOTS set it copies them into
// docs/screenshots/getting-started.
func TestBrowserGettingStarted(t *testing.T) {
	chromiumPath(t)
	s := startStack(t)
	// A first start without ADMIN_PASSWORD: auth-service makes the first
	// admin ("owner" here) with a generated password and logs it once.
	generated := generatedAdminPassword(t, s.restartAuthGenerated(t, "owner"))
	b := startBrowser(t)
	admin := b.newTab("owner", s.FrontendURL)
	maria := b.newTab("maria", s.FrontendURL)
	sam := b.newTab("sam", s.FrontendURL)
	for _, p := range []*tab{admin, maria, sam} {
		defer p.checkClean()
	}
	var shots []string
	shot := func(p *tab, name string) {
		t.Helper()
		p.screenshot("gs-" + name)
		shots = append(shots, name)
	}

	// 1. The first admin signs in with the logged password, and the app
	//    asks for a password of their own.
	admin.open("/login")
	admin.wait("login form", `!!document.querySelector('[data-testid=login-username]')`)
	admin.typeInto("login-username", "owner")
	admin.typeInto("login-password", generated)
	shot(admin, "1-sign-in")
	admin.click("login-submit")
	admin.wait("the generated-password notice", `!document.querySelector('[data-testid=password-notice]')?.hidden`)
	admin.wait("the live connection", jsConnected)
	admin.click("password-notice-change")
	admin.wait("the password form", `location.pathname === '/settings' && document.activeElement?.dataset.testid === 'password-current'`)
	admin.typeInto("password-current", generated)
	admin.typeInto("password-new", "owner-chose-this-one")
	shot(admin, "2-change-password")
	admin.click("password-save")
	admin.wait("the notice to go", `document.querySelector('[data-testid=password-notice]').hidden`)
	admin.open("/")
	admin.wait("General", jsRoomTitle+` === 'General'`)
	admin.wait("the live connection", jsConnected)

	// 2. The team signs up at the same address.
	maria.open("/register")
	maria.wait("register form", `!!document.querySelector('[data-testid=register-username]')`)
	maria.typeInto("register-username", "maria")
	maria.typeInto("register-password", password)
	shot(maria, "3-sign-up")
	maria.click("register-submit")
	maria.wait("General after sign-up", jsRoomTitle+` === 'General'`)
	sam.register("sam")

	// 3. The admin opens the team's first room, private, and invites them.
	admin.click("new-room")
	admin.wait("create dialog", `!!document.querySelector('[data-testid=create-room-name]')`)
	admin.typeInto("create-room-name", "launch")
	admin.typeInto("create-room-description", "Everything about the launch")
	admin.click("create-room-private")
	shot(admin, "4-new-room")
	admin.click("create-room-submit")
	admin.wait("the new room", jsRoomTitle+` === 'launch'`)
	admin.jsClick(tid("room-menu"))
	admin.jsClick(tid("invite-people"))
	for _, name := range []string{"maria", "sam"} {
		admin.setValue(tid("invite-picker-input"), name[:2])
		opt := fmt.Sprintf(`[data-testid=invite-picker-option][data-username=%q]`, name)
		admin.wait(name+" in the picker", "!!document.querySelector('"+opt+"')")
		if name == "sam" {
			shot(admin, "5-invite")
		}
		admin.jsClick(opt)
		admin.wait(name+" added", fmt.Sprintf(`[...document.querySelectorAll('[data-testid=toast]')].some(t => t.textContent.includes('%s was added'))`, name))
	}
	admin.click("invite-done")
	admin.wait("the dialog closed", `!document.querySelector('dialog[open]')`)

	// 4. The first conversation: the invited see the room arrive live.
	for _, p := range []*tab{maria, sam} {
		p.wait("the room they were invited to", `!!document.querySelector('[data-testid=room-item][data-room-name="launch"]')`)
	}
	admin.send("Welcome to Parley! This room is for the launch plan.")
	maria.openRoom("launch")
	maria.wait("the welcome", hasBody("Welcome to Parley! This room is for the launch plan."))
	maria.send("Thanks! I'll post the checklist here by Friday.")
	sam.openRoom("launch")
	sam.send("Great — I'll take the release notes.")
	maria.wait("Sam's message", hasBody("Great — I'll take the release notes."))
	shot(maria, "6-first-room")

	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		dst := filepath.Join("..", "docs", "screenshots", "getting-started")
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range shots {
			copyFile(t, filepath.Join(screenshotDir, "gs-"+name+".png"), filepath.Join(dst, name+".png"))
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
