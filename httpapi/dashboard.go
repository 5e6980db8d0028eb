package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/thermo/thermo"
)

// devTokenBody is the request of POST /dev/token.
type devTokenBody struct {
	Tenant  string `json:"tenant"`
	Subject string `json:"subject"`
}

// registerDashboard serves the web dashboard at / and /static/, and (dev
// mode only) POST /dev/token, which mints a token for a demo tenant.
func (s *Server) registerDashboard(dashboard http.Handler, devToken func(tenant, subject string) (string, error)) {
	if dashboard != nil {
		s.mux.Handle("GET /{$}", dashboard)
		s.mux.Handle("GET /static/", dashboard)
	}
	if devToken == nil {
		return
	}
	s.handle("POST /dev/token", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in devTokenBody
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			s.Error(w, r, thermo.Errorf(thermo.EINVALID, "Send {\"tenant\": \"…\", \"subject\": \"…\"}."))
			return
		}
		if in.Subject == "" {
			in.Subject = "dashboard"
		}
		if err := thermo.ValidateTenantID(in.Tenant); err != nil {
			s.Error(w, r, thermo.InvalidFields(thermo.FieldError{Field: "tenant", Reason: err.Error()}))
			return
		}
		tok, err := devToken(in.Tenant, in.Subject)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
	}))
}
