package accounts

import "context"

// SendResetCode is what a reset worker does with one request, run by the caller.
func (s *Service) SendResetCode(ctx context.Context, account string) { s.sendResetCode(ctx, account) }
