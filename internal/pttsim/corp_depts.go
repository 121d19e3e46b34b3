package pttsim

import "net/http"

// The corp departments: names members are listed under in the address
// list. They change its version and nothing else, so they publish no event.

// editDepts runs f on the world under s.mu: when f changed it, the
// address list has a new version and the world is to be saved.
func (s *Sim) editDepts(f func(w *world) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !f(s.w) {
		return false
	}
	bump(&s.w.AddressVer, s.now())
	s.dirty = true
	return true
}

// deptArgs are the department's name and id of a request; either may be
// absent.
func deptArgs(q *corpReq) (name string, id int64) {
	setStr(&name, q.Name)
	setNum(&id, q.DeptID)
	return name, id
}

func (s *Sim) corpDeptCreate(w http.ResponseWriter, c *corpCall) {
	name, _ := deptArgs(&c.q)
	var id int64
	s.editDepts(func(wd *world) bool {
		id = 1
		for wd.Depts[id] != "" {
			id++
		}
		wd.Depts[id] = name
		return true
	})
	corpOK(w, map[string]any{"id": id, "name": name})
}

func (s *Sim) corpDeptChange(w http.ResponseWriter, c *corpCall) {
	name, id := deptArgs(&c.q)
	known := s.editDepts(func(wd *world) bool {
		if wd.Depts[id] == "" {
			return false
		}
		wd.Depts[id] = name
		return true
	})
	if !known {
		corpFail(w, codeBadRequest, "部门不存在")
		return
	}
	corpOK(w, map[string]any{"id": id, "name": name})
}

func (s *Sim) corpDeptDelete(w http.ResponseWriter, c *corpCall) {
	_, id := deptArgs(&c.q)
	s.editDepts(func(wd *world) bool {
		delete(wd.Depts, id)
		return true
	})
	corpOK(w, nil)
}

func (s *Sim) corpDeptGetAll(w http.ResponseWriter, _ *corpCall) {
	corpOK(w, map[string]any{"depts": locked(s, func(wd *world) []map[string]any {
		out := []map[string]any{}
		for did, n := range wd.Depts {
			c := 0
			for _, m := range wd.Members {
				if m.DeptID == did {
					c++
				}
			}
			out = append(out, map[string]any{"id": did, "name": n, "user_count": c})
		}
		return out
	})})
}

func (s *Sim) corpDeptMemberGetAll(w http.ResponseWriter, c *corpCall) {
	_, id := deptArgs(&c.q)
	corpOK(w, map[string]any{"members": locked(s, func(wd *world) []map[string]any {
		out := []map[string]any{}
		for _, m := range wd.sortedMembers() {
			if m.DeptID == id {
				out = append(out, corpMember(wd, m))
			}
		}
		return out
	})})
}
