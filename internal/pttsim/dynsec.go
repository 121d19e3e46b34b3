package pttsim

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/wire"
)

// The broker's read rights follow group membership (issue 13, item 2).
// With Options.Dynsec the simulator is the admin client of mosquitto's
// dynamic security plugin (deploy/mosquitto/mosquitto-dynsec.conf): a
// role per group lets its holders subscribe to and receive the group's
// relayed voice, every member is a plugin client holding the roles of its
// groups, and each change of the world is carried to the broker within
// moments. The broker checks the receive right on every message, so a
// removed member stops hearing at once; the plugin also disconnects a
// client whose roles change, and its next subscription is checked against
// the new rights.
//
// The simulator owns only what it created: clients whose description is
// dynsecManaged and roles named {prefix}-group-{id}. Other clients (the
// platform's own, a technician's) are left alone.

const (
	dynsecTopic    = "$CONTROL/dynamic-security/v1"
	dynsecManaged  = "pttsim member"
	dynsecDeadline = 5 * time.Second // for the plugin's answer to one batch
)

// DynsecStats describe the simulator's work on the broker's rights.
type DynsecStats struct {
	Reads    int    // full reads of the plugin's clients and roles
	Batches  int    // batches of changes sent
	Commands int    // commands in them
	Errors   int    // commands the plugin refused, and batches it did not answer
	LastErr  string // the last of those
	InSync   bool   // the broker's rights were as the world says after the last batch
}

type dynsec struct {
	wake chan struct{}
	resp chan dynsecAnswer

	mu        sync.Mutex
	passwords map[string]string // account → password still to hand to the plugin
	stats     DynsecStats

	// What the broker has, as read or changed since the connection began
	// (owned by the run goroutine).
	known   bool
	clients map[string]*dynsecClient
	roles   map[string]bool
	batch   int
}

type dynsecClient struct {
	managed bool
	roles   map[string]bool
}

type dynsecCommand map[string]any

type dynsecAnswer struct {
	Responses []struct {
		Command     string          `json:"command"`
		Error       string          `json:"error"`
		Correlation string          `json:"correlationData"`
		Data        json.RawMessage `json:"data"`
	} `json:"responses"`
}

// SetBrokerPassword gives the broker a password for a member's account
// (what the handset's mqtt_password is): set now when the simulator runs
// the dynamic security plugin, else when it next reaches the broker. An
// account without one can still log in with a client certificate.
func (s *Sim) SetBrokerPassword(account, password string) {
	d := s.dynsec()
	d.mu.Lock()
	d.passwords[account] = password
	d.mu.Unlock()
	s.kickDynsec()
}

// DynsecStats returns a snapshot.
func (s *Sim) DynsecStats() DynsecStats {
	d := s.dynsec()
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

func (s *Sim) dynsec() *dynsec {
	s.dynOnce.Do(func() {
		s.dyn = &dynsec{wake: make(chan struct{}, 1), resp: make(chan dynsecAnswer, 4), passwords: map[string]string{}}
	})
	return s.dyn
}

// kickDynsec tells the dynsec loop that the world changed.
func (s *Sim) kickDynsec() {
	if !s.o.Dynsec {
		return
	}
	select {
	case s.dynsec().wake <- struct{}{}:
	default:
	}
}

func (s *Sim) roleOf(group int64) string {
	return s.o.Prefix + "-group-" + strconv.FormatInt(group, 10)
}

func (s *Sim) ownRole(name string) bool {
	id, ok := strings.CutPrefix(name, s.o.Prefix+"-group-")
	_, err := strconv.ParseInt(id, 10, 64)
	return ok && err == nil
}

// runDynsec keeps the broker's rights as the world says until ctx ends.
func (s *Sim) runDynsec(ctx context.Context, mq *mqtt.Client) {
	d := s.dynsec()
	mq.Subscribe(dynsecTopic+"/response", 1, func(_ string, payload []byte) {
		var a dynsecAnswer
		if json.Unmarshal(payload, &a) != nil {
			return
		}
		select {
		case d.resp <- a:
		default: // nobody waits for it: the batch timed out
		}
	})
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		up, changed := mq.State()
		if !up {
			d.known = false
		} else if err := s.syncDynsec(ctx, mq); err != nil {
			d.known = false
			d.mu.Lock()
			d.stats.Errors++
			d.stats.LastErr = err.Error()
			d.stats.InSync = false
			d.mu.Unlock()
			s.log.Warn("broker rights: the dynamic security plugin did not take the changes; retrying", "err", err)
			retry.Reset(2 * time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-d.wake:
		case <-retry.C:
		}
	}
}

// syncDynsec reads the plugin's state when it is not known, then sends the
// difference to the world in one batch.
func (s *Sim) syncDynsec(ctx context.Context, mq *mqtt.Client) error {
	d := s.dynsec()
	if !d.known {
		if err := s.readDynsec(ctx, mq); err != nil {
			return err
		}
	}
	cmds, after := s.dynsecDiff()
	if len(cmds) == 0 {
		d.mu.Lock()
		d.stats.InSync = true
		d.mu.Unlock()
		return nil
	}
	a, err := s.dynsecSend(ctx, mq, cmds, 0)
	d.mu.Lock()
	d.stats.Batches++
	d.stats.Commands += len(cmds)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	var refused []string
	for i, r := range a.Responses {
		if r.Error == "" {
			continue
		}
		refused = append(refused, fmt.Sprintf("%s: %s", r.Command, r.Error))
		if i < len(cmds) {
			s.log.Debug("dynsec command refused", "command", cmds[i], "err", r.Error)
		}
	}
	if len(refused) > 0 {
		// Someone else changed the plugin too: read it again.
		return fmt.Errorf("%d of %d commands refused: %s", len(refused), len(cmds), strings.Join(refused, "; "))
	}
	d.clients, d.roles = after.clients, after.roles
	d.mu.Lock()
	for acct, pw := range after.passwords {
		if d.passwords[acct] == pw {
			delete(d.passwords, acct)
		}
	}
	d.stats.InSync = true
	d.mu.Unlock()
	s.log.Debug("broker rights updated", "commands", len(cmds))
	return nil
}

// readDynsec reads the plugin's clients and roles, and sets the default
// access the deployment relies on: nothing is received, subscribed to or
// published that no rule allows (the ACL file grants each device its own
// topics, the group roles the voice).
func (s *Sim) readDynsec(ctx context.Context, mq *mqtt.Client) error {
	d := s.dynsec()
	a, err := s.dynsecSend(ctx, mq, []dynsecCommand{
		{"command": "setDefaultACLAccess", "acls": []map[string]any{
			{"acltype": "publishClientSend", "allow": false}, {"acltype": "publishClientReceive", "allow": false},
			{"acltype": "subscribe", "allow": false}, {"acltype": "unsubscribe", "allow": true}}},
		{"command": "listClients", "verbose": true, "count": -1},
		{"command": "listRoles", "verbose": false, "count": -1},
	}, 500*time.Millisecond)
	if err != nil {
		return err
	}
	if len(a.Responses) != 3 {
		return fmt.Errorf("dynsec: %d answers to 3 commands", len(a.Responses))
	}
	for _, r := range a.Responses {
		if r.Error != "" {
			return fmt.Errorf("dynsec %s: %s (is the broker user the plugin's admin? mosquitto_ctrl dynsec init)", r.Command, r.Error)
		}
	}
	var cl struct {
		Clients []struct {
			Username    string `json:"username"`
			Description string `json:"textdescription"`
			Roles       []struct {
				Name string `json:"rolename"`
			} `json:"roles"`
		} `json:"clients"`
	}
	var rl struct {
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(a.Responses[1].Data, &cl); err != nil {
		return fmt.Errorf("dynsec listClients: %w", err)
	}
	if err := json.Unmarshal(a.Responses[2].Data, &rl); err != nil {
		return fmt.Errorf("dynsec listRoles: %w", err)
	}
	d.clients, d.roles = map[string]*dynsecClient{}, map[string]bool{}
	for _, c := range cl.Clients {
		dc := &dynsecClient{managed: c.Description == dynsecManaged, roles: map[string]bool{}}
		for _, r := range c.Roles {
			dc.roles[r.Name] = true
		}
		d.clients[c.Username] = dc
	}
	for _, r := range rl.Roles {
		d.roles[r] = true
	}
	d.known = true
	d.mu.Lock()
	d.stats.Reads++
	d.mu.Unlock()
	return nil
}

// dynsecTarget is the plugin's state as the world wants it.
type dynsecTarget struct {
	clients   map[string]*dynsecClient
	roles     map[string]bool
	passwords map[string]string // handed over by this batch
}

// dynsecDiff computes the commands that take the plugin from what it has
// to what the world says, in an order the plugin accepts (roles before
// the clients that hold them; clients let go of roles before they are
// deleted), and the state after them.
func (s *Sim) dynsecDiff() ([]dynsecCommand, dynsecTarget) {
	d := s.dynsec()
	want := map[string]map[string]bool{} // account → roles
	groups := map[string]string{}        // role → voice topic filter
	s.mu.Lock()
	for _, m := range s.w.Members {
		if m.Num == s.o.BrokerUsername || strings.ContainsAny(m.Num, "/+#") || m.Num == "" {
			continue // not an account a device can log in with safely
		}
		want[m.Num] = map[string]bool{}
	}
	for _, g := range s.w.Groups {
		role := s.roleOf(g.ID)
		groups[role] = s.o.Prefix + "/group/" + strconv.FormatInt(g.ID, 10) + "/voice/+"
		for _, gm := range g.Members {
			if m := s.w.Members[gm.UserID]; m != nil && want[m.Num] != nil {
				want[m.Num][role] = true
			}
		}
	}
	s.mu.Unlock()
	d.mu.Lock()
	pending := maps.Clone(d.passwords)
	d.mu.Unlock()
	if s.offersVoiceCopy() {
		// Each device's voice login: its groups' voice and nothing else,
		// with the device's password.
		for _, acct := range slices.Collect(maps.Keys(want)) {
			want[wire.VoiceLogin(acct)] = want[acct]
			if pw, ok := pending[acct]; ok {
				pending[wire.VoiceLogin(acct)] = pw
			}
		}
	}

	after := dynsecTarget{clients: map[string]*dynsecClient{}, roles: maps.Clone(d.roles), passwords: map[string]string{}}
	for name, c := range d.clients {
		after.clients[name] = &dynsecClient{managed: c.managed, roles: maps.Clone(c.roles)}
	}
	var cmds []dynsecCommand
	for _, role := range slices.Sorted(maps.Keys(groups)) {
		if d.roles[role] {
			continue
		}
		cmds = append(cmds, dynsecCommand{"command": "createRole", "rolename": role,
			"textdescription": "hears group voice " + groups[role], "acls": []map[string]any{
				{"acltype": "subscribePattern", "topic": groups[role], "allow": true},
				{"acltype": "publishClientReceive", "topic": groups[role], "allow": true}}})
		after.roles[role] = true
	}
	for _, acct := range slices.Sorted(maps.Keys(want)) {
		roles := want[acct]
		have := d.clients[acct]
		pw, setPw := pending[acct]
		if have == nil {
			c := dynsecCommand{"command": "createClient", "username": acct, "textdescription": dynsecManaged}
			var rs []map[string]any
			for _, r := range slices.Sorted(maps.Keys(roles)) {
				rs = append(rs, map[string]any{"rolename": r})
			}
			if rs != nil {
				c["roles"] = rs
			}
			if setPw {
				c["password"] = pw
				after.passwords[acct] = pw
			}
			cmds = append(cmds, c)
			after.clients[acct] = &dynsecClient{managed: true, roles: maps.Clone(roles)}
			continue
		}
		ac := after.clients[acct]
		for _, r := range slices.Sorted(maps.Keys(roles)) {
			if !have.roles[r] {
				cmds = append(cmds, dynsecCommand{"command": "addClientRole", "username": acct, "rolename": r})
				ac.roles[r] = true
			}
		}
		for _, r := range slices.Sorted(maps.Keys(have.roles)) {
			if s.ownRole(r) && !roles[r] {
				cmds = append(cmds, dynsecCommand{"command": "removeClientRole", "username": acct, "rolename": r})
				delete(ac.roles, r)
			}
		}
		if setPw {
			cmds = append(cmds, dynsecCommand{"command": "setClientPassword", "username": acct, "password": pw})
			after.passwords[acct] = pw
		}
	}
	for _, acct := range slices.Sorted(maps.Keys(d.clients)) {
		if c := d.clients[acct]; c.managed && want[acct] == nil {
			cmds = append(cmds, dynsecCommand{"command": "deleteClient", "username": acct})
			delete(after.clients, acct)
		}
	}
	for _, role := range slices.Sorted(maps.Keys(d.roles)) {
		if s.ownRole(role) && groups[role] == "" {
			// Clients holding it lose it with the role.
			cmds = append(cmds, dynsecCommand{"command": "deleteRole", "rolename": role})
			delete(after.roles, role)
			for _, c := range after.clients {
				delete(c.roles, role)
			}
		}
	}
	return cmds, after
}

// dynsecSend publishes one batch and waits for the plugin's answer to it.
// A batch that only reads is sent again every resend (when not 0) until
// answered: right after a connect, the subscription to the answers may not
// be in place yet.
func (s *Sim) dynsecSend(ctx context.Context, mq *mqtt.Client, cmds []dynsecCommand, resend time.Duration) (dynsecAnswer, error) {
	d := s.dynsec()
	d.batch++
	id := "pttsim-" + strconv.Itoa(d.batch)
	for i, c := range cmds {
		c["correlationData"] = id + "-" + strconv.Itoa(i)
	}
	payload, err := json.Marshal(map[string]any{"commands": cmds})
	if err != nil {
		return dynsecAnswer{}, err
	}
	mq.Publish(dynsecTopic, 1, false, payload)
	deadline := time.NewTimer(dynsecDeadline)
	defer deadline.Stop()
	var again <-chan time.Time
	if resend > 0 {
		t := time.NewTicker(resend)
		defer t.Stop()
		again = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return dynsecAnswer{}, ctx.Err()
		case <-again:
			mq.Publish(dynsecTopic, 1, false, payload)
		case <-deadline.C:
			return dynsecAnswer{}, fmt.Errorf("dynsec: no answer in %v (is the broker running mosquitto-dynsec.conf, and may the broker user publish to %s?)",
				dynsecDeadline, dynsecTopic)
		case a := <-d.resp:
			if len(a.Responses) > 0 && strings.HasPrefix(a.Responses[0].Correlation, id+"-") {
				return a, nil
			}
		}
	}
}
