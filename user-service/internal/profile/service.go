package profile

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/parleychat/parley/platform/apperr"

	"github.com/parleychat/parley/user-service/internal/avatar"
)

// Stats is a user's activity as chat-service counts it.
type Stats struct {
	UserID       int64
	MessagesSent int64
	RoomsCreated int64
	RoomsJoined  int64
	LastActiveAt *time.Time
	// Degraded is true when chat-service could not answer and the numbers
	// are placeholders.
	Degraded bool
}

// StatsSource asks chat-service for a user's stats. authorization is the
// caller's Authorization header, forwarded so chat-service can check it.
type StatsSource interface {
	UserStats(ctx context.Context, userID int64, authorization string) (Stats, error)
}

// Service holds the business rules of user-service.
type Service struct {
	store    Store
	stats    StatsSource
	accounts AccountSource
	now      func() time.Time
	log      *slog.Logger
	// onDegraded is called each time stats are answered degraded (metrics).
	onDegraded func()
	// onCatchUpFailed is called when auth-service could not be asked for
	// new accounts (metrics).
	onCatchUpFailed func()

	// The directory catch-up (see catchUp): one at a time; started is when
	// the last one began, mark the highest account id it imported.
	catchUpMu sync.Mutex
	started   time.Time
	mark      int64
	markRead  bool
}

// Options configures NewService.
type Options struct {
	Store Store
	Stats StatsSource
	// Accounts lists auth-service's accounts; nil leaves the directory to
	// the profiles users create by using the app.
	Accounts AccountSource
	// Now defaults to time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// OnStatsDegraded, when set, is called for every degraded stats answer.
	OnStatsDegraded func()
	// OnCatchUpFailed, when set, is called when auth-service could not be
	// asked for new accounts.
	OnCatchUpFailed func()
}

// NewService returns a Service.
func NewService(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnStatsDegraded == nil {
		o.OnStatsDegraded = func() {}
	}
	if o.OnCatchUpFailed == nil {
		o.OnCatchUpFailed = func() {}
	}
	return &Service{
		store: o.Store, stats: o.Stats, accounts: o.Accounts, now: func() time.Time { return o.Now().UTC() }, log: o.Logger,
		onDegraded: o.OnStatsDegraded, onCatchUpFailed: o.OnCatchUpFailed,
	}
}

// markLag is how old an account must be before the directory mark passes
// it (see catchUp): far longer than a registration transaction takes to
// commit, short enough that few accounts are read twice.
const markLag = 10 * time.Second

// maxCatchUpPages bounds one catch-up (200 accounts a page): a first start
// on a large existing directory imports over a few lookups rather than
// holding one up.
const maxCatchUpPages = 25

// catchUp gives a profile to every account registered since the last one
// imported, asking auth-service with the caller's token. It runs before a
// lookup that could miss someone (a directory search, an unknown id), so an
// account is found from its registration on, whether or not its owner ever
// opened the app. Lookups that arrive while one runs wait for it and then
// start their own only if it began before they arrived. It never fails a
// lookup by itself: when auth-service does not answer, the directory is
// what it was, and the error says so (a lookup by id answers 503 rather than
// "no such user" for an account it could not ask about).
func (s *Service) catchUp(ctx context.Context, authorization string) error {
	if s.accounts == nil {
		return nil
	}
	arrived := time.Now()
	s.catchUpMu.Lock()
	defer s.catchUpMu.Unlock()
	if s.started.After(arrived) {
		return nil // one that began after this lookup arrived has seen everything it could
	}
	s.started = time.Now()
	if !s.markRead {
		m, err := s.store.DirectoryMark(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "directory mark unreadable; catch-up skipped", "error", err)
			return err
		}
		s.mark, s.markRead = m, true
	}
	after := s.mark
	for range maxCatchUpPages {
		accounts, next, err := s.accounts.Accounts(ctx, after, authorization)
		if err != nil {
			s.onCatchUpFailed()
			s.log.WarnContext(ctx, "auth-service accounts unavailable; directory not caught up", "after_id", after, "error", err)
			return err
		}
		if len(accounts) == 0 {
			return nil
		}
		// The mark only passes accounts older than markLag: on PostgreSQL
		// ids are taken in order but committed in any order, so a newer
		// account may appear below one already seen. Those above the mark
		// are imported anyway and read again next time (an insert of what
		// exists is a no-op).
		mark := s.mark
		settled := mark == after
		for _, a := range accounts {
			if settled && s.now().Sub(a.CreatedAt) >= markLag {
				mark = max(mark, a.ID)
			} else {
				settled = false
			}
		}
		if err := s.store.ImportAccounts(ctx, accounts, mark, s.now()); err != nil {
			s.log.WarnContext(ctx, "importing accounts failed", "after_id", after, "error", err)
			return err
		}
		s.mark = mark
		if next == 0 {
			return nil
		}
		after = next
	}
	return nil
}

// EnsureProfile creates the actor's profile on first use, from the token's
// claims, and keeps its username in step with them.
func (s *Service) EnsureProfile(ctx context.Context, a Actor) error {
	return s.store.EnsureProfile(ctx, a.UserID, a.Username, a.Bot, s.now())
}

// Me is the actor's own profile, created if needed.
func (s *Service) Me(ctx context.Context, a Actor) (Profile, error) {
	if err := s.EnsureProfile(ctx, a); err != nil {
		return Profile{}, err
	}
	return s.store.Profile(ctx, a.UserID)
}

// ErrDirectoryBehind is the answer for an id the directory has not
// imported when auth-service could not be asked: it may be a brand-new
// account, so "no such user" would be a guess (chat-service would refuse a
// DM with someone who exists).
var ErrDirectoryBehind = apperr.Unavailable("directory_unavailable", "the account directory cannot be brought up to date right now; try again", nil)

// Profile is the profile of user id; an account registered since the last
// catch-up is found too (authorization is the caller's, for auth-service).
func (s *Service) Profile(ctx context.Context, id int64, authorization string) (Profile, error) {
	p, err := s.store.Profile(ctx, id)
	if isNotFound(err) && id > s.knownMark() {
		cerr := s.catchUp(ctx, authorization)
		p, err = s.store.Profile(ctx, id)
		if isNotFound(err) && cerr != nil {
			return Profile{}, ErrDirectoryBehind
		}
	}
	return p, err
}

// knownMark is the highest account id imported, as far as this process
// knows (0 before its first catch-up).
func (s *Service) knownMark() int64 {
	s.catchUpMu.Lock()
	defer s.catchUpMu.Unlock()
	return s.mark
}

// Profiles returns the existing profiles among ids, in the order of ids,
// each once. Unknown ids are left out.
func (s *Service) Profiles(ctx context.Context, ids []int64, authorization string) ([]Profile, error) {
	if len(ids) > MaxBatch {
		return nil, apperr.Invalid("invalid_ids", "at most 200 ids may be asked for at once")
	}
	unique := make([]int64, 0, len(ids))
	seen := make(map[int64]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			unique = append(unique, id)
		}
	}
	if len(unique) == 0 {
		return []Profile{}, nil
	}
	found, err := s.store.Profiles(ctx, unique)
	if err != nil {
		return nil, err
	}
	if len(found) < len(unique) && slicesMax(unique) > s.knownMark() {
		_ = s.catchUp(ctx, authorization) // a batch leaves out what it cannot find
		if found, err = s.store.Profiles(ctx, unique); err != nil {
			return nil, err
		}
	}
	byID := make(map[int64]Profile, len(found))
	for _, p := range found {
		byID[p.ID] = p
	}
	out := make([]Profile, 0, len(found))
	for _, id := range unique {
		if p, ok := byID[id]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// FindProfiles lists profiles by id, optionally matching a search text,
// after catching up with the accounts registered since the last lookup.
// The cursor is the id to continue after, nil on the last page.
func (s *Service) FindProfiles(ctx context.Context, f ProfileFilter, authorization string) ([]Profile, *int64, error) {
	if len([]rune(f.Query)) > MaxQuery {
		return nil, nil, apperr.Invalid("invalid_query", "q must be at most 64 characters")
	}
	_ = s.catchUp(ctx, authorization) // a search shows what is known
	if f.Limit <= 0 || f.Limit > MaxBatch {
		f.Limit = 50
	}
	want := f.Limit
	f.Limit++ // one more tells whether there is a next page
	ps, err := s.store.FindProfiles(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	if len(ps) <= want {
		return ps, nil, nil
	}
	ps = ps[:want]
	next := ps[want-1].ID
	return ps, &next, nil
}

// CanEdit reports whether the actor may change user id's profile: their own,
// or anyone's for an admin.
func (s *Service) CanEdit(a Actor, id int64) error {
	if a.UserID == id || a.Admin {
		return nil
	}
	return apperr.Forbidden("forbidden", "you can only change your own profile")
}

// UpdateProfile merges the patch into user id's profile.
func (s *Service) UpdateProfile(ctx context.Context, a Actor, id int64, p ProfilePatch) (Profile, error) {
	if err := s.CanEdit(a, id); err != nil {
		return Profile{}, err
	}
	p = p.Normalize()
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	if a.UserID == id {
		if err := s.EnsureProfile(ctx, a); err != nil {
			return Profile{}, err
		}
	}
	if p.Empty() {
		return s.store.Profile(ctx, id)
	}
	return s.store.UpdateProfile(ctx, id, p, s.now())
}

// SetAvatar checks the uploaded bytes and makes them user id's avatar.
func (s *Service) SetAvatar(ctx context.Context, a Actor, id int64, data []byte) (Profile, error) {
	if err := s.CanEdit(a, id); err != nil {
		return Profile{}, err
	}
	img, err := avatar.Inspect(data)
	if err != nil {
		return Profile{}, err
	}
	if a.UserID == id {
		if err := s.EnsureProfile(ctx, a); err != nil {
			return Profile{}, err
		}
	}
	return s.store.SetAvatar(ctx, Avatar{UserID: id, ContentType: img.ContentType, Data: img.Data, Hash: img.Hash, UpdatedAt: s.now()})
}

// DeleteAvatar goes back to the default avatar.
func (s *Service) DeleteAvatar(ctx context.Context, a Actor, id int64) (Profile, error) {
	if err := s.CanEdit(a, id); err != nil {
		return Profile{}, err
	}
	if a.UserID == id {
		if err := s.EnsureProfile(ctx, a); err != nil {
			return Profile{}, err
		}
	}
	return s.store.DeleteAvatar(ctx, id, s.now())
}

// AvatarImage is the picture to show for user id: the uploaded one, else the
// generated default. A user without a profile gets a default too (a "?" on
// their colour), so an <img> never breaks.
func (s *Service) AvatarImage(ctx context.Context, id int64) (avatar.Image, error) {
	a, err := s.store.Avatar(ctx, id)
	if err == nil {
		return avatar.Image{ContentType: a.ContentType, Data: a.Data, Hash: a.Hash}, nil
	}
	if !isNotFound(err) {
		return avatar.Image{}, err
	}
	p, err := s.store.Profile(ctx, id)
	if isNotFound(err) {
		return avatar.Default(id, "?"), nil
	}
	if err != nil {
		return avatar.Image{}, err
	}
	return p.DefaultAvatar(), nil
}

// Settings are the actor's settings, the defaults until they save some.
func (s *Service) Settings(ctx context.Context, a Actor) (Settings, error) {
	st, err := s.store.Settings(ctx, a.UserID)
	if isNotFound(err) {
		return DefaultSettings(a.UserID), nil
	}
	return st, err
}

// UpdateSettings merges the patch into the actor's settings.
func (s *Service) UpdateSettings(ctx context.Context, a Actor, p SettingsPatch) (Settings, error) {
	if err := p.Validate(); err != nil {
		return Settings{}, err
	}
	if p.Empty() {
		return s.Settings(ctx, a)
	}
	if err := s.EnsureProfile(ctx, a); err != nil {
		return Settings{}, err
	}
	return s.store.UpdateSettings(ctx, a.UserID, p, DefaultSettings(a.UserID), s.now())
}

// Stats asks chat-service for user id's stats. It never fails: when
// chat-service is down, slow or confused the answer is zeros marked
// Degraded, so a profile card still renders.
func (s *Service) Stats(ctx context.Context, id int64, authorization string) Stats {
	st, err := s.stats.UserStats(ctx, id, authorization)
	if err != nil {
		s.onDegraded()
		s.log.WarnContext(ctx, "chat-service stats unavailable; answering degraded", "user_id", id, "error", err)
		return Stats{UserID: id, Degraded: true}
	}
	st.UserID = id
	st.Degraded = false
	return st
}

func isNotFound(err error) bool {
	var e *apperr.Error
	return errors.As(err, &e) && e.Kind == apperr.KindNotFound
}

func slicesMax(ids []int64) int64 {
	var m int64
	for _, id := range ids {
		m = max(m, id)
	}
	return m
}
