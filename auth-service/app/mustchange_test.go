package app_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// generatedPassword is the password the first start logged.
func generatedPassword(t *testing.T, logs string) string {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			if p, ok := rec["password"].(string); ok {
				return p
			}
		}
	}
	t.Fatalf("no generated password in the logs:\n%s", logs)
	return ""
}

// The first admin on a generated password is told to change it — in the
// login answer and in GET /me — until they do; nobody else ever is.
func TestMustChangePassword(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db map[string]string) {
		env := map[string]string{"DATA_DIR": t.TempDir(), "BCRYPT_COST": "4", "ADMIN_USERNAME": "root", "LOG_LEVEL": "warn"}
		for k, v := range db {
			env[k] = v
		}
		url, logs := runLogged(t, env)
		password := generatedPassword(t, logs.String())

		// The flag, as raw JSON: present and true, or absent.
		flag := func(body []byte) (value any, present bool) {
			t.Helper()
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			if u, ok := m["user"].(map[string]any); ok {
				m = u
			}
			value, present = m["must_change_password"]
			return value, present
		}

		r := must(t, 200, "POST", url+"/login", map[string]string{"username": "root", "password": password}, nil)
		if v, ok := flag(r.Body); v != true || !ok {
			t.Fatalf("login user: must_change_password %v %v: %s", v, ok, r.Body)
		}
		var adm session
		r.decode(t, &adm)
		h := bearer(adm.AccessToken)
		if v, _ := flag(must(t, 200, "GET", url+"/me", nil, nil, h...).Body); v != true {
			t.Fatalf("me: must_change_password %v", v)
		}

		// A wrong current password changes nothing.
		must(t, 403, "POST", url+"/password", map[string]string{"current_password": "wrong-password", "new_password": "chosen-password-1"}, nil, h...)
		if v, _ := flag(must(t, 200, "GET", url+"/me", nil, nil, h...).Body); v != true {
			t.Fatalf("me after a failed change: must_change_password %v", v)
		}

		// A registered user never sees the field.
		u := register(t, url, "newcomer", "password1")
		if _, ok := flag(must(t, 200, "GET", url+"/me", nil, nil, bearer(u.AccessToken)...).Body); ok {
			t.Fatal("a chosen password carries must_change_password")
		}

		must(t, 204, "POST", url+"/password", map[string]string{"current_password": password, "new_password": "chosen-password-1"}, nil, h...)
		if _, ok := flag(must(t, 200, "GET", url+"/me", nil, nil, h...).Body); ok {
			t.Fatal("must_change_password after the change")
		}
		r = must(t, 200, "POST", url+"/login", map[string]string{"username": "root", "password": "chosen-password-1"}, nil)
		if _, ok := flag(r.Body); ok {
			t.Fatalf("login after the change: %s", r.Body)
		}
	})
}
