package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/thermo/thermo"
)

type webhookBody struct {
	URL    string `json:"url" minLength:"1" maxLength:"2000" doc:"Absolute http(s) URL receiving alert events as signed JSON POSTs."`
	Secret string `json:"secret,omitempty" maxLength:"256" doc:"16 to 256 characters; generated if absent."`
}

type putWebhookInput struct {
	Body webhookBody
}

// createdWebhook is the only answer that shows the secret.
type createdWebhook struct {
	URL       string    `json:"url"`
	Secret    string    `json:"secret" doc:"Shown once: verify X-Thermo-Signature (sha256=<hex HMAC-SHA256 of the body>) with it."`
	UpdatedAt time.Time `json:"updatedAt"`
}

type putWebhookOutput struct {
	Body createdWebhook
}

type webhookOutput struct {
	Body *thermo.Webhook
}

func (s *Server) registerWebhookRoutes() {
	if s.webhooks == nil {
		return
	}
	tags := []string{"notifications"}
	huma.Register(s.api, huma.Operation{
		OperationID: "put-webhook", Method: http.MethodPut, Path: "/v1/notifications/webhook",
		Summary: "Set the tenant's webhook", Tags: tags,
		Description: "Replaces the webhook. The secret (generated when absent) is returned only here.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, s.putWebhook)
	huma.Register(s.api, huma.Operation{
		OperationID: "get-webhook", Method: http.MethodGet, Path: "/v1/notifications/webhook",
		Summary: "Get the tenant's webhook", Tags: tags, Description: "The URL; never the secret.",
		Errors: []int{http.StatusNotFound},
	}, s.getWebhook)
}

func (s *Server) putWebhook(ctx context.Context, in *putWebhookInput) (*putWebhookOutput, error) {
	w := &thermo.Webhook{URL: in.Body.URL, Secret: in.Body.Secret}
	if err := s.webhooks.SetWebhook(ctx, w); err != nil {
		return nil, fmt.Errorf("set webhook: %w", err)
	}
	return &putWebhookOutput{Body: createdWebhook{URL: w.URL, Secret: w.Secret, UpdatedAt: w.UpdatedAt}}, nil
}

func (s *Server) getWebhook(ctx context.Context, _ *struct{}) (*webhookOutput, error) {
	w, err := s.webhooks.FindWebhook(ctx)
	if err != nil {
		return nil, fmt.Errorf("get webhook: %w", err)
	}
	return &webhookOutput{Body: w}, nil
}
