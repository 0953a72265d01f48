// Generated from the OpenAPI document of the routes by `npm run types`; do not edit.
// `npm run check:types` fails when it is out of date.

export interface paths {
    "/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Liveness
         * @description Answers while the process is up; touches nothing else.
         */
        get: operations["health"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/ready": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Readiness
         * @description Checks the database; 503 when it does not answer. Also reports Redis (when configured: the shared rate-limit store) and the circuit breakers of the providers this process calls (Stripe when configured, outgoing webhook endpoints), which never make the instance unready: the API keeps serving everything that does not need them, and without Redis it serves requests without rate limits.
         */
        get: operations["ready"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Prometheus metrics
         * @description Process metrics and HTTP latency histograms in the Prometheus text format, for a scraper sending `Authorization: Bearer <METRICS_TOKEN>`. 401 without it or with another token; 404 when METRICS_TOKEN is not set (metrics are off).
         */
        get: operations["metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/register": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Register a user
         * @description Always 202 with the same body, whether or not the email is taken, so registration never tells which addresses have a user. A new address gets a user (argon2id password hash), a verification email and a welcome email; a taken one gets a "someone tried to sign up with your email" notice (at most one an hour) and nothing else changes. Sign in with `POST /v1/auth/token` afterwards. A taken username is a 409, whatever the email.
         */
        post: operations["register"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/token": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Get tokens
         * @description OAuth2-style token endpoint: `grant_type=password` (the default) with `username` (the email or the username) or, in JSON, `email`; or `grant_type=refresh_token`. JSON or a form. Also sets the refresh token as an httpOnly cookie. Rate limited per client IP + identifier (refresh: per sign-in) and per client IP over all identifiers.
         */
        post: operations["token"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/refresh": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Rotate a refresh token
         * @description Exchanges a refresh token (body or cookie) for a new pair. The old one is spent: presented again within REFRESH_REUSE_INTERVAL_SECONDS of that (several tabs refreshing at once), it gets another new pair of the same sign-in; presented later, it revokes its whole sign-in and answers 401.
         */
        post: operations["refresh"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Log out
         * @description Revokes the sign-in (refresh family) of the given refresh token or cookie, or else of the Bearer access token: its access tokens stop working at once. Always 204.
         */
        post: operations["logout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The current user */
        get: operations["getMe"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /** Update the profile */
        patch: operations["updateMe"];
        trace?: never;
    };
    "/.well-known/jwks.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Public signing keys
         * @description JWKS for verifying access tokens in other services.
         */
        get: operations["jwks"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/providers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List sign-in options
         * @description How people can sign in on this instance, for a sign-in page to draw its buttons: password and emailed login codes (always on), and the OAuth providers that have a client id and secret configured, each with the URL that starts its sign-in. Public.
         */
        get: operations["listSignInOptions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/oauth/{provider}/start": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Start a Google or GitHub sign-in
         * @description Redirects (302) to the provider with a fresh state and a PKCE (S256) challenge; the state and the code verifier are kept in an httpOnly cookie for 10 minutes. Open it in the browser, not with fetch. With `redirect=app` (the web UI) the callback ends on the UI rather than answering JSON, and `next` says where. 404 when the provider has no client id and secret configured.
         */
        get: operations["oauthStart"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/oauth/{provider}/callback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Finish a Google or GitHub sign-in
         * @description Where the provider sends the browser back. Checks the state against the flow cookie (400 on mismatch), exchanges the code with the PKCE verifier (401 when the provider refuses it, 503 `provider_unavailable` when it fails or times out), then signs in: the user already linked to this identity; else the user with the same email, linked only when the provider says the email is verified (409 otherwise; and when that user had not verified the address, the address becomes verified and the unproven password and its sessions are dropped); else a new user. Answers the token response, or redirects (302) to OAUTH_SUCCESS_URL with only the refresh cookie set when that is configured. Deactivated users get 401.
         *
         *     A sign-in started with `redirect=app` ends on the web UI instead: signed in, 302 to `APP_URL/sign-in?oauth=complete&next=<path>` with only the refresh cookie set (the page gets an access token from `POST /v1/auth/refresh`); refused, 302 to `APP_URL/sign-in?oauth_error=<code>&next=<path>` with the problem code. Without its flow cookie the callback cannot know, and answers the problem.
         */
        get: operations["oauthCallback"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/email/verify/request": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send a verification email
         * @description Emails the current user a link that verifies their address (valid 24 hours). 409 when already verified.
         */
        post: operations["requestEmailVerification"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/email/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Verify the email
         * @description Consumes the `token` of a verification link (single use) and marks the user verified.
         */
        post: operations["verifyEmail"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/password/forgot": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Request a password reset
         * @description Always 202 with the same body, whether or not the email belongs to an account: the lookup and the email happen in a background job.
         */
        post: operations["forgotPassword"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/password/reset": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Reset the password
         * @description Consumes the `token` of a reset link (single use, 30 minutes), sets the new password, ends every session of the user and sends a "password changed" email.
         */
        post: operations["resetPassword"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/password/change": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Change the password
         * @description Needs the current password (403 when wrong). Ends every other session of the user and sends a "password changed" email.
         */
        post: operations["changePassword"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/login-code/request": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Email a login code
         * @description Always 202 with the same body. For an active account, a 6-digit code valid 10 minutes is emailed; a new request replaces the previous code.
         */
        post: operations["requestLoginCode"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/login-code/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Sign in with a login code
         * @description Exchanges the emailed code for tokens. Single use; at most 5 tries per code; 401 for any wrong, expired or used code.
         */
        post: operations["verifyLoginCode"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/deactivate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Deactivate my user
         * @description Deactivates the current user: every session ends, access tokens stop working on the next request, and sign-in is refused. The account API keys the user made are revoked.
         */
        post: operations["deactivate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List my accounts
         * @description The accounts the caller is a member of, newest first. With `external_id`, the one account that has it, as a page of one (`next_cursor` null), or an empty page when there is none or the caller is not its member: an account is never revealed to someone who is not in it. An API key with `accounts:read` finds a tenant by `external_id` (a site key: any account; an account key: its own); without it, an account key gets its own account and a site key 400.
         */
        get: operations["listAccounts"];
        put?: never;
        /**
         * Create an account
         * @description Creates a tenant account. A signed-in user becomes its owner. A site API key with `accounts:write` creates it with no member and, with `owner_email`, invites that address as owner (the response's `role` is null); an account key cannot create accounts (403). `external_id` is the integrating product's own id for the tenant, so only a site key sets it (a person who sends one gets 403); it is unique, so another account with it answers 409 `conflict` (also when two requests race).
         */
        post: operations["createAccount"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get an account
         * @description Members, site admins, and API keys with `accounts:read` (`role` is null for the last two).
         */
        get: operations["getAccount"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Update an account
         * @description Name, time zone and external id; owners and admins, and API keys with `accounts:write`. Only a site API key sets, changes or clears (null) `external_id`: a person or an account key that sends it gets 403. Another account with the id answers 409 `conflict`.
         */
        patch: operations["updateAccount"];
        trace?: never;
    };
    "/v1/accounts/{accountId}/members": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List members */
        get: operations["listMembers"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/members/{userId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Remove a member
         * @description Owners and admins remove others; any member may remove themselves. The last owner stays. The account API keys the member made are revoked.
         */
        delete: operations["removeMember"];
        options?: never;
        head?: never;
        /**
         * Change a member's role
         * @description Owners and admins; only an owner makes or unmakes an owner, and the last owner stays one (409). Made a plain member, a person loses the account API keys they made (revoked). People join by invitation (`POST /v1/accounts/{accountId}/invitations`).
         */
        patch: operations["changeMemberRole"];
        trace?: never;
    };
    "/v1/accounts/{accountId}/invitations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List invitations
         * @description Newest first; `?status=` keeps one state. Owners and admins, or an API key with `accounts:read`.
         */
        get: operations["listInvitations"];
        put?: never;
        /**
         * Invite someone
         * @description Emails an invitation link (valid 7 days, single use) to the address, whether or not it belongs to a user: the answer is the same 202 either way. Inviting an address with a pending invitation refreshes that invitation (new role and expiry; the earlier link stops working). Owners and admins, or an API key with `accounts:write`; only an owner (or a site key) invites an owner. 409 `already_member` when a member has this address.
         */
        post: operations["createInvitation"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/invitations/{invitationId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Revoke an invitation
         * @description The link stops working at once. Owners and admins, or an API key with `accounts:write`; an owner invitation only by an owner (or a site key). 409 when it is no longer pending.
         */
        delete: operations["revokeInvitation"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/invitations/accept": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Accept an invitation
         * @description Joins the account with the role of the invitation. The signed-in user must own the invited address and have verified it. Single use: a used, revoked or expired invitation is a 410 with its own code.
         */
        post: operations["acceptInvitation"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/api-keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List site API keys
         * @description Site admins. The site keys, or with `account_id` that account's keys. Newest first, revoked ones included; never the secrets.
         */
        get: operations["listSiteApiKeys"];
        put?: never;
        /**
         * Create a site API key
         * @description Site admins. A site key acts on every account within its scopes. The response carries the secret (`key`, starting `pgk_`), which is never shown again (a retry with the same Idempotency-Key replays this response); only its SHA-256 is stored. Send it as `Authorization: Bearer <key>`.
         */
        post: operations["createSiteApiKey"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/api-keys/{keyId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Revoke an API key
         * @description Site admins, for any key: a site key or an account key. The next request with the key is refused (401) on every instance. Revoking a revoked key answers it again.
         */
        delete: operations["revokeSiteApiKey"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/api-keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List account API keys
         * @description Owners, admins and site admins. Newest first, revoked ones included (a key revoked with its maker has `revoked_at` set); never the secrets.
         */
        get: operations["listAccountApiKeys"];
        put?: never;
        /**
         * Create an account API key
         * @description Owners and admins. An account key acts on this account only, within its scopes (`plans:write` is for site keys). An account key works while the person who made it can still make keys in the account: it is revoked when they leave or are removed, are made a plain member, or deactivate their user. The response carries the secret (`key`, starting `pgk_`), which is never shown again (a retry with the same Idempotency-Key replays this response); only its SHA-256 is stored. Send it as `Authorization: Bearer <key>`.
         */
        post: operations["createAccountApiKey"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/api-keys/{keyId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Revoke an account API key
         * @description Owners and admins. The next request with the key is refused (401) on every instance. Revoking a revoked key answers it again.
         */
        delete: operations["revokeAccountApiKey"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/plans": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List plans
         * @description Public: active plans ordered by price. Site admins and site API keys with `plans:write` may add `include_inactive=true`.
         */
        get: operations["listPlans"];
        put?: never;
        /**
         * Create a plan
         * @description Site admins only. With Stripe, the Product and Price are created at Stripe right after the plan is saved; when Stripe does not answer, the plan is saved all the same and its Price is made at its first Checkout.
         */
        post: operations["createPlan"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/plans/{code}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a plan
         * @description Public; retired plans are returned with `is_active: false`.
         */
        get: operations["getPlan"];
        put?: never;
        post?: never;
        /**
         * Retire a plan
         * @description Site admins only. Soft delete: subscribers keep it, new subscriptions to it are refused.
         */
        delete: operations["retirePlan"];
        options?: never;
        head?: never;
        /**
         * Update a plan
         * @description Site admins only. Limit changes apply to current subscribers at once (a lower limit leaves accounts over limit, nothing is deleted). With Stripe, a new price, currency or interval creates a new Stripe Price and archives the old one: existing subscribers keep paying the old price, new ones get the new.
         */
        patch: operations["updatePlan"];
        trace?: never;
    };
    "/v1/accounts/{accountId}/subscription": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get the subscription
         * @description The account's current (latest) subscription, or 404 when it never had one.
         */
        get: operations["getSubscription"];
        put?: never;
        /**
         * Subscribe
         * @description Starts a subscription to a plan. Manual provider: 201, active at once (or trialing when the plan has trial days and the account and its owner never had a trial), with an open invoice. Stripe: 202 with a Checkout URL; the subscription stays `incomplete` until Stripe's webhook confirms the payment or the trial. Repeating the request while that Checkout is open returns the same session; another plan replaces it. 409 when the account already has a live subscription. When Stripe does not answer (503 `provider_unavailable` with Retry-After), the subscription stays `incomplete` without a Checkout and a retry (best with the same Idempotency-Key) resumes it: Stripe is never asked for a second session. 409 `idempotency_in_progress` while the first request with the key is still running.
         */
        post: operations["subscribe"];
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Change plan
         * @description Now or at period end. An upgrade made now is charged pro rata for the rest of the period; with Stripe the new plan is granted only once that invoice is paid (the plan stays as it is while the payment is pending or after it fails). A downgrade deletes nothing and may leave the account over its new limits (see the preview). Choosing the current plan again drops a scheduled change.
         */
        patch: operations["changePlan"];
        trace?: never;
    };
    "/v1/accounts/{accountId}/subscription/history": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List subscription history
         * @description Every change of the account's subscriptions, newest first: what happened (`type`), the status and plan before and after, who did it, and the details. Members, site admins, and API keys with `accounts:read`.
         */
        get: operations["listSubscriptionHistory"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/subscription/preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Preview a plan change
         * @description What changing to `plan` now would cost (pro rata, as the change computes it), the price difference per period, and which limits of the target plan the account is over today. Changes nothing.
         */
        get: operations["previewPlanChange"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/subscription/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel
         * @description At period end by default (access until then, resumable), or now.
         */
        post: operations["cancelSubscription"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/subscription/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Resume
         * @description Undoes a cancel-at-period-end before the period ends.
         */
        post: operations["resumeSubscription"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/invoices": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List invoices
         * @description The account's invoices and payments, newest first: one per provider invoice, with amount, currency, status (`paid`, `open`, `failed`, `refunded`, `void`), period and hosted URL. Owners and admins.
         */
        get: operations["listInvoices"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/billing-portal": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Open the billing portal
         * @description A Stripe Customer Portal session where the customer updates payment methods, sees invoices and (as configured in Stripe) changes or cancels the plan; changes made there reach plangate by webhook. Owners and admins. 409 with the manual provider; 503 `provider_unavailable` when Stripe does not answer.
         */
        post: operations["createBillingPortalSession"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/invoices/{id}/mark-paid": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Mark an invoice paid
         * @description Site admins, manual provider: records the payment of an open or failed invoice; a past_due subscription with nothing else unpaid becomes active again. Repeating it changes nothing. 409 for a Stripe invoice (Stripe settles those).
         */
        post: operations["markInvoicePaid"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/invoices/{id}/mark-failed": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Mark an invoice failed
         * @description Site admins, manual provider: records that the payment of an open invoice failed; the subscription becomes past_due and keeps access for GRACE_PERIOD_DAYS, and its owners are emailed. 409 for a Stripe invoice.
         */
        post: operations["markInvoiceFailed"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/billing/webhooks/stripe": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Receive a Stripe webhook
         * @description Stripe's endpoint (see the README for the events to enable). The `Stripe-Signature` header is checked on the raw body with STRIPE_WEBHOOK_SECRET; a missing, wrong or stale signature is answered 400 and nothing is written. Each event id is processed once: a redelivery (even many at once) answers 200 and changes nothing. A failure answers non-2xx so Stripe retries; a job also retries stored events that are still unprocessed. Not rate limited. 404 `not_found` when this server has no Stripe configuration.
         */
        post: operations["receiveStripeWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/entitlements": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get entitlements
         * @description Plan, status and, per feature, limit / used / remaining (per-period figures for today in the account time zone, or `date`). The resource-backed features (`staff`, `bookings_per_day`) are always listed, with limit 0 when the plan lacks them. Members, site admins, and API keys with `entitlements:read`.
         */
        get: operations["getEntitlements"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/usage": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Record usage
         * @description Meters one of the product's own features on the plan's limits: a positive quantity consumes units atomically (403 limit_exceeded when it would pass the limit), a negative one releases them (never below zero). Send an Idempotency-Key to make retries safe.
         *
         *     Only metered features: the resource-backed ones, `staff` (changed by POST and DELETE /v1/accounts/{id}/staff), `bookings_per_day` (changed by POST /v1/accounts/{id}/bookings and its /cancel), are counted from the service's own rows and answer 400 feature_not_metered, as does a key that plans use only as a flag; nothing is changed.
         *
         *     A key that no plan names and the service does not declare answers 404 unknown_feature; a known feature the account’s plan does not include has limit 0.
         */
        post: operations["recordUsage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/usage/history": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get usage history
         * @description A limit counted per day or per month over a range of account-local periods, for charts: one entry per day (or month) from `from` to `to`, oldest first, with 0 where nothing was counted, beside the current plan's `limit`. Without `from` and `to`: the last 30 days up to today (12 months up to this month, for a monthly limit).
         *
         *     At most 366 periods at once; `from` after `to` or a longer range is 400 validation_failed. A count limit (`staff`: a live count, with no periods; its figure is in the entitlements) and a plan flag answer 400 no_usage_history; a key no plan names and the service does not declare, 404 unknown_feature.
         *
         *     Members, site admins, and API keys with `entitlements:read`.
         */
        get: operations["getUsageHistory"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/check": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Check a feature
         * @description Answers whether the account may use `quantity` units of a feature now, without consuming or changing anything: `allowed` is true when the account has a subscription that grants access and `used + quantity` fits the limit (or the limit is null: unlimited).
         *
         *     Any feature works: metered ones and the resource-backed `staff`, `bookings_per_day`. Per-day and per-month figures are for the current day or month in the account's time zone, like the entitlements. A feature the account's plan does not include has limit 0; a key that no plan names and the service does not declare answers 404 unknown_feature.
         *
         *     A flag answers `allowed` = the flag's value in the account's plan (false without access), with `limit`, `used` and `remaining` null. Without a subscription that grants access, `allowed` is false and `remaining` 0.
         *
         *     A check reserves nothing: a later consume (usage, staff, bookings) decides again, atomically. Members and site admins.
         */
        post: operations["checkFeature"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/staff": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List staff */
        get: operations["listStaff"];
        put?: never;
        /**
         * Add a staff member
         * @description Owners and admins. Needs a subscription with access (403 subscription_required) and room under the `staff` limit (403 limit_exceeded).
         */
        post: operations["createStaff"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/staff/{staffId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Delete a staff member
         * @description Owners and admins; frees a unit of the `staff` limit.
         */
        delete: operations["deleteStaff"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/bookings": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List bookings
         * @description Ordered by start; `date` filters on the account-local day.
         */
        get: operations["listBookings"];
        put?: never;
        /**
         * Create a booking
         * @description Any member. Counts on the start day in the account time zone against `bookings_per_day` (403 limit_exceeded when the day is full; 403 subscription_required without access).
         */
        post: operations["createBooking"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/accounts/{accountId}/bookings/{bookingId}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel a booking
         * @description Any member; frees the unit of the booking's day.
         */
        post: operations["cancelBooking"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List background jobs
         * @description Site admins: jobs newest first, filtered by state (e.g. `failed`: jobs that used up their retries and are kept for inspection) and name.
         */
        get: operations["listJobs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/mail": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List outgoing mail
         * @description Site admins: the messages written to the outbox folder (`DATA_DIR/outbox`, used when `SMTP_URL` is unset), newest first. They contain live links and codes. 404 `not_found` when mail is sent over SMTP, as nothing is kept then.
         */
        get: operations["listMail"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/mail/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get one outgoing message
         * @description Site admins: one message of the outbox folder. 404 `not_found` when there is no such message, or when mail is sent over SMTP.
         */
        get: operations["getMail"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhook-endpoints": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List webhook endpoints
         * @description Site admins only. Newest first, without their secrets.
         */
        get: operations["listWebhookEndpoints"];
        put?: never;
        /**
         * Register a webhook endpoint
         * @description Site admins only. plangate POSTs signed events of the chosen types to the URL. The response carries the signing `secret`, which is never shown again (a retry with the same Idempotency-Key replays this response). A URL on a loopback, private, link-local or other internal address, or `localhost`, is refused with 400 `url_not_allowed` (and so is plain http in production); a host name is resolved and checked again at every delivery.
         */
        post: operations["createWebhookEndpoint"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhook-endpoints/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Delete a webhook endpoint
         * @description Site admins only. Soft delete: nothing more is sent to it, deliveries still pending end `failed`, and its delivery log stays readable.
         */
        delete: operations["deleteWebhookEndpoint"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhook-endpoints/{id}/deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List an endpoint's deliveries
         * @description Site admins only. The delivery log, newest first: one entry per event sent to the endpoint, with its attempts and the last response or error.
         */
        get: operations["listWebhookDeliveries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhook-endpoints/{id}/deliveries/{deliveryId}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Retry a failed delivery
         * @description Site admins only (people, not API keys). Sends a delivery that ended `failed` once more: it turns `pending` and is queued like a new delivery, through the same checks (a host name is resolved and its address checked again; while the endpoint's circuit breaker is open nothing is sent), signed afresh. Its `attempts` keep counting and the retry limit is already used, so a failure leaves it `failed` again, with the new outcome in the delivery log. 409 for a delivery that is not `failed` or whose endpoint was deleted. Recorded in the audit log as `webhook_delivery.retried`.
         */
        post: operations["retryWebhookDelivery"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/subscriptions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List all subscriptions
         * @description Site admins: every account's subscriptions, newest first, with the account's name. The filters match the stored `status`, while each result shows the status as of this request: a subscription whose period is over but not yet swept matches `status=active` and reads `expired`.
         */
        get: operations["adminListSubscriptions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/accounts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List all accounts
         * @description Site admins: accounts newest first, with their member count, owner and latest subscription. `q` matches a part of the name (any case) or an exact account id.
         */
        get: operations["adminListAccounts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Revenue and churn
         * @description Site admins: figures as of this request. MRR counts the subscriptions that grant access now and pay: `active`, `past_due` in its grace period and `canceled` before its period ends; not `trialing` or `incomplete`. Each counts what its subscriber pays a month (the `price` of the subscription; a yearly price a twelfth, rounded to the cent), which after a price change of the plan may differ from the price of the plan. `mrr_cents` is in `usd`; `mrr_by_currency` gives every currency, so plans priced in another currency are never added to dollars. `trialing`, `past_due`, `active` and `canceled_pending` count subscriptions with access now. Churn over the last 30 days: the subscriptions canceled or expired whose access ended in the window, divided by those created before the window that had not ended when it began (0 when there were none).
         */
        get: operations["adminMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/metrics/series": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Revenue and subscriptions over time
         * @description Site admins: the figures of `GET /v1/admin/metrics` over time, for charts: one point per `interval` (day, 7 days, or calendar month, counted from `from`) from `from` to `to` (UTC days; default the last 90 days; at most 366 points; `to` not after today), oldest first. Each point holds the figures as they stood at its `end`: the midnight (UTC) that ends its interval, or for the current one this request, so the last point of a series ending today equals `GET /v1/admin/metrics`. `mrr_cents`, `mrr_by_currency`, `active_by_plan`, `active`, `trialing`, `past_due` and `canceled_pending` count the subscriptions that had access at that instant, defined as in `/v1/admin/metrics`; MRR counts what each subscriber paid at that instant (the price is recorded with every transition). A subscription's past states come from its recorded transitions (its history); an expiry counts from when the hourly sweep recorded it. `cancellations` counts the cancellations made during the interval (immediate or at period end), `churned` the subscriptions canceled or expired whose access ended during it, the counterpart of `churn_30d.canceled_or_expired`.
         */
        get: operations["adminMetricsSeries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/webhook-events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List received Stripe events
         * @description Site admins: the Stripe webhook events as received, latest first, with how often applying them was tried and the last error. `processed=false` lists the events not applied yet; `include=payload` adds the body of each event.
         */
        get: operations["adminListWebhookEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/audit-log": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read the audit log
         * @description Site admins: who changed what, newest first, filtered by action (exact or `auth.*`), account, actor type, acting user or subject. Sign-in events are here too (`auth.sign_in`, `auth.sign_in_failed`, …), never with a password, token or code.
         */
        get: operations["adminListAuditLog"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/jobs/{id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Retry a failed job
         * @description Site admins (people only): gives a job in state `failed` (it used up its retries) one more attempt. The job keeps its id and payload, turns `retry` with its retry limit one higher, and runs when a worker next polls; if that attempt fails too it is `failed` again. 409 for a job in any other state (still retrying, running, completed or cancelled). Recorded in the audit log as `job.retried`.
         */
        post: operations["adminRetryJob"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /**
         * @example {
         *       "id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
         *       "name": "Chic-Chic",
         *       "timezone": "Europe/Paris",
         *       "external_id": "salon-8421",
         *       "role": "owner",
         *       "created_at": "2026-11-01T09:00:00.000Z",
         *       "updated_at": "2026-11-01T09:00:00.000Z"
         *     }
         */
        Account: {
            /** Format: uuid */
            id: string;
            name: string;
            timezone: string;
            /** @description The integrating product's own id for this tenant, unique; null when it has none. */
            external_id: string | null;
            /** @description The caller's role; null for a site admin who is not a member. */
            role: ("owner" | "admin" | "member") | null;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            updated_at: string;
        };
        /**
         * @example {
         *       "id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
         *       "name": "Chic-Chic",
         *       "timezone": "Europe/Paris",
         *       "created_at": "2026-11-01T09:00:00.000Z",
         *       "stripe_customer_id": null,
         *       "member_count": 2,
         *       "owner_email": "ann@example.com",
         *       "subscription": {
         *         "id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
         *         "plan": "basic",
         *         "status": "active",
         *         "has_access": true,
         *         "current_period_end": "2026-12-01T09:00:00.000Z"
         *       }
         *     }
         */
        AdminAccount: {
            /** Format: uuid */
            id: string;
            name: string;
            timezone: string;
            /** Format: date-time */
            created_at: string;
            stripe_customer_id: string | null;
            member_count: number;
            /** @description The first owner; null if the account has none. */
            owner_email: string | null;
            /** @description The account's latest subscription, live or not; null if it never had one. */
            subscription: {
                /** Format: uuid */
                id: string;
                /** @description Plan code. */
                plan: string;
                /**
                 * @description As of this request, like the subscription itself.
                 * @enum {string}
                 */
                status: "incomplete" | "trialing" | "active" | "past_due" | "canceled" | "expired";
                has_access: boolean;
                /** Format: date-time */
                current_period_end: string;
            } | null;
        };
        /**
         * @example {
         *       "as_of": "2026-11-28T12:00:00.000Z",
         *       "currency": "usd",
         *       "mrr_cents": 68800,
         *       "mrr_by_currency": {
         *         "usd": 68800
         *       },
         *       "active_by_plan": [
         *         {
         *           "plan": "pro",
         *           "currency": "usd",
         *           "count": 8,
         *           "mrr_cents": 39200
         *         },
         *         {
         *           "plan": "basic",
         *           "currency": "usd",
         *           "count": 16,
         *           "mrr_cents": 29600
         *         }
         *       ],
         *       "trialing": 3,
         *       "past_due": 1,
         *       "active": 24,
         *       "canceled_pending": 2,
         *       "churn_30d": {
         *         "canceled_or_expired": 1,
         *         "active_at_start": 22,
         *         "rate": 0.0455
         *       }
         *     }
         */
        AdminMetrics: {
            /** Format: date-time */
            as_of: string;
            /** @description The currency of `mrr_cents`: `usd`. */
            currency: string;
            /** @description Monthly recurring revenue in `currency`: each subscription counts what its subscriber pays; a yearly price a twelfth, rounded. */
            mrr_cents: number;
            /** @description MRR per currency, for every currency with a paying subscription. */
            mrr_by_currency: {
                [key: string]: number;
            };
            /** @description The subscriptions counted in MRR, by plan, largest MRR first. */
            active_by_plan: {
                plan: string;
                currency: string;
                /** @description Paying subscriptions with access on this plan. */
                count: number;
                /** @description Their MRR, in the plan's currency. */
                mrr_cents: number;
            }[];
            trialing: number;
            /** @description Past due and still in the grace period. */
            past_due: number;
            active: number;
            /** @description Canceled but with access until their period ends. */
            canceled_pending: number;
            churn_30d: {
                /** @description Subscriptions, canceled or expired, whose access ended in the last 30 days. */
                canceled_or_expired: number;
                /** @description Subscriptions created before the window that had not ended when it began. */
                active_at_start: number;
                /** @description `canceled_or_expired / active_at_start`, 4 decimals; 0 when nothing was active. */
                rate: number;
            };
        };
        /**
         * @example {
         *       "as_of": "2026-11-28T12:00:00.000Z",
         *       "currency": "usd",
         *       "interval": "day",
         *       "points": [
         *         {
         *           "date": "2026-11-27",
         *           "end": "2026-11-28T00:00:00.000Z",
         *           "mrr_cents": 63900,
         *           "mrr_by_currency": {
         *             "usd": 63900
         *           },
         *           "active_by_plan": [
         *             {
         *               "plan": "pro",
         *               "currency": "usd",
         *               "count": 7,
         *               "mrr_cents": 34300
         *             },
         *             {
         *               "plan": "basic",
         *               "currency": "usd",
         *               "count": 16,
         *               "mrr_cents": 29600
         *             }
         *           ],
         *           "trialing": 4,
         *           "past_due": 1,
         *           "active": 22,
         *           "canceled_pending": 2,
         *           "cancellations": 1,
         *           "churned": 0
         *         },
         *         {
         *           "date": "2026-11-28",
         *           "end": "2026-11-28T12:00:00.000Z",
         *           "mrr_cents": 68800,
         *           "mrr_by_currency": {
         *             "usd": 68800
         *           },
         *           "active_by_plan": [
         *             {
         *               "plan": "pro",
         *               "currency": "usd",
         *               "count": 8,
         *               "mrr_cents": 39200
         *             },
         *             {
         *               "plan": "basic",
         *               "currency": "usd",
         *               "count": 16,
         *               "mrr_cents": 29600
         *             }
         *           ],
         *           "trialing": 3,
         *           "past_due": 1,
         *           "active": 24,
         *           "canceled_pending": 2,
         *           "cancellations": 0,
         *           "churned": 1
         *         }
         *       ]
         *     }
         */
        AdminMetricsSeries: {
            /** Format: date-time */
            as_of: string;
            /** @description The currency of `mrr_cents`: `usd`. */
            currency: string;
            /** @enum {string} */
            interval: "day" | "week" | "month";
            /** @description One point per interval from `from` to `to`, oldest first. */
            points: {
                /**
                 * Format: date
                 * @description The first UTC day of the point (its day, week or month).
                 */
                date: string;
                /**
                 * Format: date-time
                 * @description The instant the figures are taken at: the end of the point's interval, or now for the current one.
                 */
                end: string;
                /** @description MRR in `usd` at the end of the day. */
                mrr_cents: number;
                /** @description MRR per currency at the end of the day, for every currency with a paying subscription. */
                mrr_by_currency: {
                    [key: string]: number;
                };
                /** @description The subscriptions counted in MRR at the end of the day, by plan, largest MRR first. */
                active_by_plan: {
                    plan: string;
                    currency: string;
                    /** @description Paying subscriptions with access on this plan. */
                    count: number;
                    /** @description Their MRR, in the plan's currency. */
                    mrr_cents: number;
                }[];
                /** @description Trialing with access at the end of the day. */
                trialing: number;
                /** @description Past due and still in the grace period at the end of the day. */
                past_due: number;
                /** @description Active with access at the end of the day. */
                active: number;
                /** @description Canceled but with access until their period ends, at the end of the day. */
                canceled_pending: number;
                /** @description Cancellations made during the day, immediate or at period end (a resumed one still counts). */
                cancellations: number;
                /** @description Subscriptions, canceled or expired, whose access ended during the day (up to now for today): the daily counterpart of `churn_30d.canceled_or_expired`. */
                churned: number;
            }[];
        };
        /**
         * @example {
         *       "id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
         *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
         *       "plan": "basic",
         *       "status": "active",
         *       "has_access": true,
         *       "provider": "manual",
         *       "price": {
         *         "amount_cents": 1900,
         *         "currency": "usd",
         *         "interval": "month"
         *       },
         *       "current_period_start": "2026-11-01T09:00:00.000Z",
         *       "current_period_end": "2026-12-01T09:00:00.000Z",
         *       "cancel_at_period_end": false,
         *       "canceled_at": null,
         *       "ended_at": null,
         *       "trial_end": null,
         *       "grace_until": null,
         *       "pending_plan": null,
         *       "checkout_url": null,
         *       "created_at": "2026-11-01T09:00:00.000Z",
         *       "updated_at": "2026-11-01T09:00:00.000Z",
         *       "account_name": "Chic-Chic"
         *     }
         */
        AdminSubscription: {
            /** Format: uuid */
            id: string;
            /** Format: uuid */
            account_id: string;
            /** @description Plan code. */
            plan: string;
            /**
             * @description As of this request: a subscription whose period is over reads `expired` even before the sweep.
             * @enum {string}
             */
            status: "incomplete" | "trialing" | "active" | "past_due" | "canceled" | "expired";
            /** @description Whether the subscription grants access right now. */
            has_access: boolean;
            provider: string;
            /** @description What the subscriber pays per period: the plan's price when they subscribed or moved to the plan. A later change of the plan's price does not reach them; a change of plan does. */
            price: components["schemas"]["SubscriberPrice"];
            /** Format: date-time */
            current_period_start: string;
            /** Format: date-time */
            current_period_end: string;
            cancel_at_period_end: boolean;
            canceled_at: string | null;
            ended_at: string | null;
            trial_end: string | null;
            /** @description For a `past_due` subscription: access continues until then (GRACE_PERIOD_DAYS after the failed payment). */
            grace_until: string | null;
            /** @description Plan code taking over at period end, if a change is scheduled. */
            pending_plan: string | null;
            /** @description For an `incomplete` subscription (Stripe): where the customer pays to start it. */
            checkout_url: string | null;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            updated_at: string;
            account_name: string;
        };
        /**
         * @example {
         *       "id": "0193a1b2-6c4d-7e8f-9a0b-1c2d3e4f5a6b",
         *       "name": "booking backend",
         *       "prefix": "pgk_Zm9vYmFy",
         *       "scopes": [
         *         "entitlements:read",
         *         "resources:write"
         *       ],
         *       "account_id": null,
         *       "created_at": "2026-12-07T10:00:00.000Z",
         *       "last_used_at": null,
         *       "expires_at": null,
         *       "revoked_at": null
         *     }
         */
        ApiKey: {
            /** Format: uuid */
            id: string;
            name: string;
            /** @description The first characters of the secret, to recognise it. */
            prefix: string;
            scopes: ("accounts:read" | "accounts:write" | "subscriptions:write" | "entitlements:read" | "usage:write" | "resources:write" | "plans:write")[];
            /** @description The account an account key acts on; null for a site key. */
            account_id: string | null;
            /** Format: date-time */
            created_at: string;
            /** @description The last request made with the key, to the minute. */
            last_used_at: string | null;
            expires_at: string | null;
            revoked_at: string | null;
        };
        /**
         * @example {
         *       "id": "0192f5c5-6da1-7fc4-86b1-3c4d5e6f7a89",
         *       "actor_type": "user",
         *       "actor_user_id": "0192f5c4-7a1e-7c3b-9d2e-4f5a6b7c8d90",
         *       "actor_key_id": null,
         *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
         *       "action": "subscription.canceled",
         *       "subject_type": "subscription",
         *       "subject_id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
         *       "data": {
         *         "at_period_end": true
         *       },
         *       "created_at": "2026-11-20T15:04:00.000Z"
         *     }
         */
        AuditEntry: {
            /** Format: uuid */
            id: string;
            /**
             * @description `user`, `key` (an API key), `system` (jobs, sweeps), `provider` (Stripe webhooks) or `anonymous` (failed sign-ins, rate-limit lockouts).
             * @enum {string}
             */
            actor_type: "user" | "key" | "system" | "provider" | "anonymous";
            actor_user_id: string | null;
            /** @description The API key that acted (actor type `key`). */
            actor_key_id: string | null;
            account_id: string | null;
            action: string;
            subject_type: string;
            subject_id: string | null;
            data: {
                [key: string]: unknown;
            };
            /** Format: date-time */
            created_at: string;
        };
        /**
         * @example {
         *       "id": "0192f5c5-1e5c-7a7f-b16c-8d9e0f1a2b34",
         *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
         *       "staff_id": "0192f5c5-0d4b-7f6e-a05b-7c8d9e0f1a23",
         *       "customer_name": "Zoé",
         *       "starts_at": "2030-03-10T09:00:00.000Z",
         *       "duration_minutes": 45,
         *       "status": "confirmed",
         *       "local_date": "2030-03-10",
         *       "created_at": "2026-11-01T09:00:00.000Z",
         *       "canceled_at": null
         *     }
         */
        Booking: {
            /** Format: uuid */
            id: string;
            /** Format: uuid */
            account_id: string;
            staff_id: string | null;
            customer_name: string;
            /** Format: date-time */
            starts_at: string;
            duration_minutes: number;
            /** @enum {string} */
            status: "confirmed" | "canceled";
            /** @description The account-local day the booking counts on. */
            local_date: string;
            /** Format: date-time */
            created_at: string;
            canceled_at: string | null;
        };
        /**
         * @example {
         *       "plan": "pro",
         *       "current_plan": "basic",
         *       "change": "upgrade",
         *       "currency": "usd",
         *       "amount_due_now_cents": 1500,
         *       "price_difference_cents": 3000,
         *       "next_period_price_cents": 4900,
         *       "period_end": "2026-12-01T09:00:00.000Z",
         *       "trial_end": null,
         *       "exceeded_limits": []
         *     }
         */
        ChangePreview: {
            plan: string;
            /** @description Null when the account has no subscription with access. */
            current_plan: string | null;
            /** @enum {string} */
            change: "new" | "upgrade" | "downgrade" | "same";
            currency: string;
            /** @description Charged at once for a change made now: pro rata for the rest of the period (never negative). */
            amount_due_now_cents: number;
            /** @description Target price minus current price, per billing period. */
            price_difference_cents: number;
            next_period_price_cents: number;
            /**
             * Format: date-time
             * @description When the current (or, for a new subscription, the first) period ends.
             */
            period_end: string;
            /** @description For a new subscription that would get the plan's trial (the account and its owner have had none): when it ends. Nothing is due until then, and `period_end` is the same instant. */
            trial_end: string | null;
            /** @description Limits of the target plan the account is over today; creations would be refused until it is back under. */
            exceeded_limits: {
                feature: string;
                limit: number;
                used: number;
            }[];
        };
        /**
         * @example {
         *       "allowed": true,
         *       "feature": "bookings_per_day",
         *       "limit": 5,
         *       "used": 3,
         *       "remaining": 2
         *     }
         */
        CheckResult: {
            /** @description A limit: the account has access and `used + quantity` fits the limit (or it is unlimited). A flag: the account has access and its plan turns the flag on. */
            allowed: boolean;
            feature: string;
            /** @description The plan's limit (0 when the plan lacks the feature); null = unlimited, and null for a flag. */
            limit: number | null;
            /** @description Used in the current period (today's or this month's, in the account's time zone, for per-period features); null for a flag. */
            used: number | null;
            /** @description null = unlimited, and null for a flag; 0 without access. */
            remaining: number | null;
        };
        /**
         * @example {
         *       "checkout_url": "https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4",
         *       "checkout_expires_at": "2026-11-02T09:00:00.000Z",
         *       "subscription": {
         *         "id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
         *         "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
         *         "plan": "basic",
         *         "status": "incomplete",
         *         "has_access": false,
         *         "provider": "stripe",
         *         "price": {
         *           "amount_cents": 1900,
         *           "currency": "usd",
         *           "interval": "month"
         *         },
         *         "current_period_start": "2026-11-01T09:00:00.000Z",
         *         "current_period_end": "2026-12-01T09:00:00.000Z",
         *         "cancel_at_period_end": false,
         *         "canceled_at": null,
         *         "ended_at": null,
         *         "trial_end": null,
         *         "grace_until": null,
         *         "pending_plan": null,
         *         "checkout_url": "https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4",
         *         "created_at": "2026-11-01T09:00:00.000Z",
         *         "updated_at": "2026-11-01T09:00:00.000Z"
         *       }
         *     }
         */
        CheckoutStarted: {
            /** @description Send the customer here (Stripe Checkout) to pay. */
            checkout_url: string;
            /** Format: date-time */
            checkout_expires_at: string;
            /** @description `incomplete` until Stripe confirms the payment (or the trial) by webhook. */
            subscription: components["schemas"]["Subscription"];
        };
        /**
         * @example {
         *       "id": "0193a1b2-6c4d-7e8f-9a0b-1c2d3e4f5a6b",
         *       "name": "booking backend",
         *       "prefix": "pgk_Zm9vYmFy",
         *       "scopes": [
         *         "entitlements:read",
         *         "resources:write"
         *       ],
         *       "account_id": null,
         *       "created_at": "2026-12-07T10:00:00.000Z",
         *       "last_used_at": null,
         *       "expires_at": null,
         *       "revoked_at": null,
         *       "key": "pgk_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
         *     }
         */
        CreatedApiKey: {
            /** Format: uuid */
            id: string;
            name: string;
            /** @description The first characters of the secret, to recognise it. */
            prefix: string;
            scopes: ("accounts:read" | "accounts:write" | "subscriptions:write" | "entitlements:read" | "usage:write" | "resources:write" | "plans:write")[];
            /** @description The account an account key acts on; null for a site key. */
            account_id: string | null;
            /** Format: date-time */
            created_at: string;
            /** @description The last request made with the key, to the minute. */
            last_used_at: string | null;
            expires_at: string | null;
            revoked_at: string | null;
            /** @description The secret, `pgk_…`: send it as `Authorization: Bearer <key>`. Shown only in this response. */
            key: string;
        };
        /**
         * @example {
         *       "id": "0192f5c5-3a7e-7c91-938e-0f1a2b3c4d56",
         *       "url": "https://hooks.example.com/plangate",
         *       "events": [
         *         "subscription.*",
         *         "invoice.paid"
         *       ],
         *       "description": "Provisioning service",
         *       "is_active": true,
         *       "created_at": "2026-11-01T09:00:00.000Z",
         *       "secret": "whsec_pg_4f9a2c7e1b8d3f6a0c5e9b2d7f1a4c8e"
         *     }
         */
        CreatedWebhookEndpoint: {
            /** Format: uuid */
            id: string;
            url: string;
            events: string[];
            description: string;
            /** @description False once deleted: nothing more is delivered to it. */
            is_active: boolean;
            /** Format: date-time */
            created_at: string;
            /** @description Signs every delivery (`plangate-signature`). Shown in this response only: store it now. */
            secret: string;
        };
        /**
         * @example {
         *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
         *       "plan": "basic",
         *       "status": "active",
         *       "has_access": true,
         *       "timezone": "Europe/Paris",
         *       "features": {
         *         "staff": {
         *           "kind": "count",
         *           "limit": 2,
         *           "used": 1,
         *           "remaining": 1,
         *           "over_limit": false
         *         },
         *         "bookings_per_day": {
         *           "kind": "per_day",
         *           "date": "2026-11-28",
         *           "resets_at": "2026-11-28T23:00:00.000Z",
         *           "limit": 5,
         *           "used": 3,
         *           "remaining": 2,
         *           "over_limit": false
         *         },
         *         "sms_reminders": {
         *           "kind": "boolean",
         *           "enabled": false
         *         }
         *       }
         *     }
         */
        Entitlements: {
            /** Format: uuid */
            account_id: string;
            /** @description Code of the plan granting access, if any. */
            plan: string | null;
            /** @description Subscription status as of now; null without a subscription. */
            status: string | null;
            has_access: boolean;
            timezone: string;
            features: {
                [key: string]: {
                    /** @constant */
                    kind: "count";
                    /** @description null = unlimited */
                    limit: number | null;
                    used: number;
                    /** @description null = unlimited; 0 without access */
                    remaining: number | null;
                    /** @description More used than the plan allows (after a downgrade); creations are refused. */
                    over_limit: boolean;
                } | {
                    /** @constant */
                    kind: "per_day";
                    date: string;
                    /** Format: date-time */
                    resets_at: string;
                    /** @description null = unlimited */
                    limit: number | null;
                    used: number;
                    /** @description null = unlimited; 0 without access */
                    remaining: number | null;
                    /** @description More used than the plan allows (after a downgrade); creations are refused. */
                    over_limit: boolean;
                } | {
                    /** @constant */
                    kind: "per_month";
                    month: string;
                    /** Format: date-time */
                    resets_at: string;
                    /** @description null = unlimited */
                    limit: number | null;
                    used: number;
                    /** @description null = unlimited; 0 without access */
                    remaining: number | null;
                    /** @description More used than the plan allows (after a downgrade); creations are refused. */
                    over_limit: boolean;
                } | {
                    /** @constant */
                    kind: "boolean";
                    enabled: boolean;
                };
            };
        };
        /**
         * @example {
         *       "id": "0197a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b",
         *       "account_id": "0197a1b2-0000-7000-8000-000000000001",
         *       "email": "ann@example.com",
         *       "role": "member",
         *       "status": "pending",
         *       "invited_by": "0197a1b2-0000-7000-8000-000000000002",
         *       "expires_at": "2030-03-17T10:00:00.000Z",
         *       "accepted_at": null,
         *       "revoked_at": null,
         *       "created_at": "2030-03-10T10:00:00.000Z",
         *       "updated_at": "2030-03-10T10:00:00.000Z"
         *     }
         */
        Invitation: {
            /** Format: uuid */
            id: string;
            /** Format: uuid */
            account_id: string;
            email: string;
            /** @enum {string} */
            role: "owner" | "admin" | "member";
            /** @enum {string} */
            status: "pending" | "accepted" | "revoked" | "expired";
            /** @description The user who sent (or last re-sent) the invitation. */
            invited_by: string | null;
            /** Format: date-time */
            expires_at: string;
            accepted_at: string | null;
            revoked_at: string | null;
            /** Format: date-time */
            created_at: string;
            /**
             * Format: date-time
             * @description When it was last sent: inviting the same address again refreshes it.
             */
            updated_at: string;
        };
        /**
         * @example {
         *       "id": "0192f5c5-2f6d-7b80-827d-9e0f1a2b3c45",
         *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
         *       "subscription_id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
         *       "provider": "manual",
         *       "provider_invoice_id": "manual_0192f5c5",
         *       "amount_cents": 1900,
         *       "currency": "usd",
         *       "status": "paid",
         *       "description": "Basic, Nov 1 – Dec 1, 2026",
         *       "period_start": "2026-11-01T09:00:00.000Z",
         *       "period_end": "2026-12-01T09:00:00.000Z",
         *       "hosted_url": null,
         *       "paid_at": "2026-11-01T09:05:00.000Z",
         *       "created_at": "2026-11-01T09:00:00.000Z"
         *     }
         */
        Invoice: {
            /** Format: uuid */
            id: string;
            /** Format: uuid */
            account_id: string;
            subscription_id: string | null;
            provider: string;
            provider_invoice_id: string;
            amount_cents: number;
            currency: string;
            /** @enum {string} */
            status: "paid" | "open" | "failed" | "refunded" | "void";
            description: string;
            period_start: string | null;
            period_end: string | null;
            hosted_url: string | null;
            paid_at: string | null;
            /** Format: date-time */
            created_at: string;
        };
        /**
         * @example {
         *       "id": "0192f5c5-8fc3-71e6-a8d3-5e6f7a8b9c01",
         *       "name": "mail.send",
         *       "state": "failed",
         *       "data": {
         *         "to": "ann@example.com"
         *       },
         *       "retry_count": 5,
         *       "retry_limit": 5,
         *       "output": {
         *         "message": "SMTP server did not answer within 10 s"
         *       },
         *       "created_on": "2026-11-01T09:00:00.000Z",
         *       "started_on": "2026-11-01T09:31:00.000Z",
         *       "completed_on": "2026-11-01T09:31:10.000Z",
         *       "start_after": "2026-11-01T09:31:00.000Z"
         *     }
         */
        Job: {
            id: string;
            name: string;
            /** @enum {string} */
            state: "created" | "retry" | "active" | "completed" | "cancelled" | "failed";
            data: unknown;
            retry_count: number;
            retry_limit: number;
            /** @description The last error of a failed or retrying job. */
            output: unknown;
            /** Format: date-time */
            created_on: string;
            started_on: string | null;
            completed_on: string | null;
            /** Format: date-time */
            start_after: string;
        };
        /**
         * @example {
         *       "user_id": "0197a1b2-0000-7000-8000-000000000003",
         *       "email": "ann@example.com",
         *       "name": "Ann",
         *       "role": "admin",
         *       "created_at": "2030-03-11T08:30:00.000Z"
         *     }
         */
        Member: {
            /** Format: uuid */
            user_id: string;
            email: string;
            name: string | null;
            /** @enum {string} */
            role: "owner" | "admin" | "member";
            /** Format: date-time */
            created_at: string;
        };
        /**
         * @description An email written to the outbox folder.
         * @example {
         *       "id": "0192f5c5-7eb2-70d5-97c2-4d5e6f7a8b90",
         *       "to": "ann@example.com",
         *       "from": "plangate <no-reply@localhost>",
         *       "subject": "Your sign-in code",
         *       "text": "Your code is 493817. It expires in 10 minutes.",
         *       "html": "<p>Your code is <strong>493817</strong>. It expires in 10 minutes.</p>",
         *       "reference": "job:0192f5c5-8fc3-71e6-a8d3-5e6f7a8b9c01",
         *       "created_at": "2026-11-01T09:00:00.000Z"
         *     }
         */
        OutboxMessage: {
            /** Format: uuid */
            id: string;
            to: string;
            from: string;
            subject: string;
            text: string;
            html: string;
            /** @description What caused the message, e.g. the id of the job that sent it. */
            reference: string | null;
            /** Format: date-time */
            created_at: string;
        };
        /**
         * @example {
         *       "code": "basic",
         *       "name": "Basic",
         *       "description": "For a small salon.",
         *       "price_cents": 1900,
         *       "currency": "usd",
         *       "interval": "month",
         *       "tier": 1,
         *       "trial_days": 14,
         *       "limits": {
         *         "staff": 2,
         *         "bookings_per_day": 5
         *       },
         *       "features": {
         *         "sms_reminders": false
         *       },
         *       "is_active": true
         *     }
         */
        Plan: {
            code: string;
            name: string;
            description: string;
            price_cents: number;
            currency: string;
            /** @enum {string} */
            interval: "month" | "year";
            tier: number;
            trial_days: number;
            limits: {
                [key: string]: number | null;
            };
            features: {
                [key: string]: boolean;
            };
            is_active: boolean;
        };
        /** @description RFC 9457 problem details, with a stable `code`. */
        Problem: {
            type: string;
            title: string;
            status: number;
            detail: string;
            /** @enum {string} */
            code: "validation_failed" | "unauthorized" | "forbidden" | "subscription_required" | "limit_exceeded" | "feature_not_metered" | "no_usage_history" | "not_found" | "unknown_feature" | "url_not_allowed" | "email_not_verified" | "invitation_email_mismatch" | "invitation_not_found" | "conflict" | "already_member" | "invitation_expired" | "invitation_revoked" | "invitation_used" | "idempotency_in_progress" | "payload_too_large" | "unsupported_media_type" | "rate_limited" | "internal_error" | "provider_unavailable" | "service_busy" | "service_unavailable";
            errors?: {
                location: string;
                message: string;
            }[];
        } & {
            [key: string]: unknown;
        };
        /**
         * @example {
         *       "id": "evt_1QbCdEfGhIjKlMnO",
         *       "type": "invoice.paid",
         *       "event_created_at": "2026-11-01T09:00:00.000Z",
         *       "received_at": "2026-11-01T09:00:01.000Z",
         *       "processed_at": "2026-11-01T09:00:01.000Z",
         *       "attempts": 1,
         *       "last_error": null
         *     }
         */
        ReceivedWebhookEvent: {
            /** @description The Stripe event id. */
            id: string;
            type: string;
            /** Format: date-time */
            event_created_at: string;
            /** Format: date-time */
            received_at: string;
            /** @description Null until the change the event carries is committed. */
            processed_at: string | null;
            attempts: number;
            last_error: string | null;
            /** @description With `include=payload` only. */
            payload?: {
                [key: string]: unknown;
            };
        };
        /**
         * @example {
         *       "password": true,
         *       "login_code": true,
         *       "oauth": [
         *         {
         *           "provider": "google",
         *           "label": "Google",
         *           "start_url": "/v1/auth/oauth/google/start"
         *         },
         *         {
         *           "provider": "github",
         *           "label": "GitHub",
         *           "start_url": "/v1/auth/oauth/github/start"
         *         }
         *       ]
         *     }
         */
        SignInOptions: {
            /**
             * @description Email (or username) and password: `POST /v1/auth/token`.
             * @constant
             */
            password: true;
            /**
             * @description A one-time code by email: `POST /v1/auth/login-code/request`, then `/verify`.
             * @constant
             */
            login_code: true;
            /** @description The identity providers configured on this instance (none when no client id and secret is set). */
            oauth: {
                /** @enum {string} */
                provider: "google" | "github";
                /** @description The name to show on the button. */
                label: string;
                /** @description Open in the browser (not with fetch) to sign in; add `?redirect=app` to end on the web UI. */
                start_url: string;
            }[];
        };
        /**
         * @example {
         *       "id": "0192f5c5-0d4b-7f6e-a05b-7c8d9e0f1a23",
         *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
         *       "name": "Ann",
         *       "email": "ann@chic-chic.example",
         *       "is_active": true,
         *       "created_at": "2026-11-01T09:00:00.000Z"
         *     }
         */
        Staff: {
            /** Format: uuid */
            id: string;
            /** Format: uuid */
            account_id: string;
            name: string;
            email: string | null;
            is_active: boolean;
            /** Format: date-time */
            created_at: string;
        };
        SubscriberPrice: {
            amount_cents: number;
            currency: string;
            /** @enum {string} */
            interval: "month" | "year";
        };
        /**
         * @example {
         *       "id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
         *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
         *       "plan": "basic",
         *       "status": "active",
         *       "has_access": true,
         *       "provider": "manual",
         *       "price": {
         *         "amount_cents": 1900,
         *         "currency": "usd",
         *         "interval": "month"
         *       },
         *       "current_period_start": "2026-11-01T09:00:00.000Z",
         *       "current_period_end": "2026-12-01T09:00:00.000Z",
         *       "cancel_at_period_end": false,
         *       "canceled_at": null,
         *       "ended_at": null,
         *       "trial_end": null,
         *       "grace_until": null,
         *       "pending_plan": null,
         *       "checkout_url": null,
         *       "created_at": "2026-11-01T09:00:00.000Z",
         *       "updated_at": "2026-11-01T09:00:00.000Z"
         *     }
         */
        Subscription: {
            /** Format: uuid */
            id: string;
            /** Format: uuid */
            account_id: string;
            /** @description Plan code. */
            plan: string;
            /**
             * @description As of this request: a subscription whose period is over reads `expired` even before the sweep.
             * @enum {string}
             */
            status: "incomplete" | "trialing" | "active" | "past_due" | "canceled" | "expired";
            /** @description Whether the subscription grants access right now. */
            has_access: boolean;
            provider: string;
            /** @description What the subscriber pays per period: the plan's price when they subscribed or moved to the plan. A later change of the plan's price does not reach them; a change of plan does. */
            price: components["schemas"]["SubscriberPrice"];
            /** Format: date-time */
            current_period_start: string;
            /** Format: date-time */
            current_period_end: string;
            cancel_at_period_end: boolean;
            canceled_at: string | null;
            ended_at: string | null;
            trial_end: string | null;
            /** @description For a `past_due` subscription: access continues until then (GRACE_PERIOD_DAYS after the failed payment). */
            grace_until: string | null;
            /** @description Plan code taking over at period end, if a change is scheduled. */
            pending_plan: string | null;
            /** @description For an `incomplete` subscription (Stripe): where the customer pays to start it. */
            checkout_url: string | null;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            updated_at: string;
        };
        /**
         * @example {
         *       "id": "0192f5c4-a1b2-7c3d-8e4f-5a6b7c8d9e0f",
         *       "subscription_id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
         *       "type": "upgraded",
         *       "from_status": "active",
         *       "to_status": "active",
         *       "from_plan": "basic",
         *       "plan": "pro",
         *       "price": {
         *         "amount_cents": 4900,
         *         "currency": "usd",
         *         "interval": "month"
         *       },
         *       "actor_user_id": "0192f5c4-7a1e-7b3c-9d2e-4f5a6b7c8d90",
         *       "data": {
         *         "changed": [
         *           "plan"
         *         ],
         *         "amount_cents": 1500
         *       },
         *       "created_at": "2026-11-15T10:30:00.000Z"
         *     }
         */
        SubscriptionEvent: {
            /** Format: uuid */
            id: string;
            /** Format: uuid */
            subscription_id: string;
            /**
             * @description What happened: `created`, `activated`, `upgraded`, `downgraded`, `upgrade_awaiting_payment`, `canceled`, `cancel_scheduled`, `resumed`, `past_due`, `recovered`, `renewed`, `change_scheduled`, `scheduled_change_canceled`, `trial_ended`, `expired`, `checkout_expired`, `updated`; and the reminders sent, `trial_will_end` and `grace_ending`, which change nothing. The audit log has the same entry as `subscription.<type>`.
             * @enum {string}
             */
            type: "created" | "activated" | "upgraded" | "downgraded" | "upgrade_awaiting_payment" | "canceled" | "cancel_scheduled" | "resumed" | "past_due" | "recovered" | "renewed" | "change_scheduled" | "scheduled_change_canceled" | "trial_ended" | "expired" | "checkout_expired" | "updated" | "plan_changed" | "trial_will_end" | "grace_ending";
            /** @description Status before; null when `created`. */
            from_status: ("incomplete" | "trialing" | "active" | "past_due" | "canceled" | "expired") | null;
            /**
             * @description Status after (the same as before for a reminder).
             * @enum {string}
             */
            to_status: "incomplete" | "trialing" | "active" | "past_due" | "canceled" | "expired";
            /** @description Plan code before; null when `created`. */
            from_plan: string | null;
            /** @description Plan code after the change. */
            plan: string | null;
            /** @description What the subscriber pays per period after the change. */
            price: components["schemas"]["SubscriberPrice"];
            /** @description The person who made the change; null when the service (sweep, payment provider, reminders) or an API key did (the audit log names the key). */
            actor_user_id: string | null;
            /** @description Details of the change, by type: `changed` (the fields that changed, e.g. `status`, `plan`, `pending_plan`, `current_period_end`, `cancel_at_period_end`), `trial_days` (created with a trial), `amount_cents` (charged for an upgrade made now), `pending_plan` (a change scheduled for period end), `plan` (the plan of an upgrade awaiting payment), `key` (the occasion of a reminder), `reconciled` (applied by the reconciliation with the payment provider). */
            data: {
                [key: string]: unknown;
            };
            /** Format: date-time */
            created_at: string;
        };
        /**
         * @example {
         *       "feature": "bookings_per_day",
         *       "period_kind": "day",
         *       "from": "2026-11-26",
         *       "to": "2026-11-28",
         *       "limit": 5,
         *       "data": [
         *         {
         *           "period": "2026-11-26",
         *           "used": 4
         *         },
         *         {
         *           "period": "2026-11-27",
         *           "used": 0
         *         },
         *         {
         *           "period": "2026-11-28",
         *           "used": 3
         *         }
         *       ]
         *     }
         */
        UsageHistory: {
            feature: string;
            /**
             * @description What one entry counts: an account-local day (YYYY-MM-DD) or month (YYYY-MM).
             * @enum {string}
             */
            period_kind: "day" | "month";
            /** @description The first period of the range. */
            from: string;
            /** @description The last period of the range, included. */
            to: string;
            /** @description The current plan's limit per period: null = unlimited, 0 when the plan lacks the feature or the account has no live subscription. Today's limit, drawn against past periods too. */
            limit: number | null;
            /** @description One entry per period from `from` to `to`, oldest first, zeros included. */
            data: {
                /** @description YYYY-MM-DD or YYYY-MM, account-local. */
                period: string;
                /** @description Units counted in the period (0 when nothing was). */
                used: number;
            }[];
        };
        /**
         * @example {
         *       "feature": "api_calls_per_month",
         *       "kind": "per_month",
         *       "period": "2026-11",
         *       "limit": 10000,
         *       "used": 4211,
         *       "remaining": 5789
         *     }
         */
        UsageResult: {
            feature: string;
            /** @enum {string} */
            kind: "count" | "per_day" | "per_month";
            /** @description '' for count features, YYYY-MM-DD or YYYY-MM otherwise. */
            period: string;
            limit: number | null;
            used: number;
            remaining: number | null;
        };
        /**
         * @example {
         *       "id": "0192f5c4-7a1e-7c3b-9d2e-4f5a6b7c8d90",
         *       "email": "ann@example.com",
         *       "username": "ann",
         *       "name": "Ann Smith",
         *       "image_url": null,
         *       "provider": "local",
         *       "is_verified": true,
         *       "is_admin": false,
         *       "is_active": true,
         *       "created_at": "2026-11-01T09:00:00.000Z",
         *       "updated_at": "2026-11-02T10:30:00.000Z"
         *     }
         */
        User: {
            /** Format: uuid */
            id: string;
            email: string;
            username: string | null;
            name: string | null;
            image_url: string | null;
            /** @enum {string} */
            provider: "local" | "google" | "github";
            is_verified: boolean;
            is_admin: boolean;
            is_active: boolean;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            updated_at: string;
        };
        /**
         * @example {
         *       "id": "0192f5c5-4b8f-7da2-a49f-1a2b3c4d5e67",
         *       "event_id": "0192f5c5-5c90-7eb3-b5a0-2b3c4d5e6f78",
         *       "event_type": "subscription.renewed",
         *       "status": "delivered",
         *       "attempts": 2,
         *       "last_status_code": 200,
         *       "last_error": null,
         *       "last_duration_ms": 184,
         *       "delivered_at": "2026-11-01T09:00:31.000Z",
         *       "created_at": "2026-11-01T09:00:00.000Z",
         *       "updated_at": "2026-11-01T09:00:31.000Z"
         *     }
         */
        WebhookDelivery: {
            /** Format: uuid */
            id: string;
            /** Format: uuid */
            event_id: string;
            event_type: string;
            /**
             * @description `pending` (being tried or awaiting a retry), `delivered` (a 2xx) or `failed` (retries used up).
             * @enum {string}
             */
            status: "pending" | "delivered" | "failed";
            /** @description Runs so far, including those skipped while the endpoint’s circuit breaker was open. */
            attempts: number;
            /** @description HTTP status of the last attempt; null if none was received. */
            last_status_code: number | null;
            /** @description Why the last attempt failed, in a few fixed words (`HTTP 500 Internal Server Error`, `No response within 10 s`, `Not sent: …`); response bodies are never kept. Null after a success. */
            last_error: string | null;
            /** @description How long the last attempt took until its status line, in milliseconds; null if nothing was sent. */
            last_duration_ms: number | null;
            delivered_at: string | null;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            updated_at: string;
        };
        /**
         * @example {
         *       "id": "0192f5c5-3a7e-7c91-938e-0f1a2b3c4d56",
         *       "url": "https://hooks.example.com/plangate",
         *       "events": [
         *         "subscription.*",
         *         "invoice.paid"
         *       ],
         *       "description": "Provisioning service",
         *       "is_active": true,
         *       "created_at": "2026-11-01T09:00:00.000Z"
         *     }
         */
        WebhookEndpoint: {
            /** Format: uuid */
            id: string;
            url: string;
            events: string[];
            description: string;
            /** @description False once deleted: nothing more is delivered to it. */
            is_active: boolean;
            /** Format: date-time */
            created_at: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    health: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "ok"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        status: "ok";
                    };
                };
            };
        };
    };
    ready: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "ok",
                     *       "database": "ok",
                     *       "redis": "ok",
                     *       "stripe": {
                     *         "breaker": "closed",
                     *         "in_flight": 0
                     *       },
                     *       "webhooks": {
                     *         "open": 0,
                     *         "half_open": 0
                     *       }
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        status: "ok" | "unavailable";
                        /** @enum {string} */
                        database: "ok" | "unavailable";
                        /**
                         * @description Present when REDIS_URL is set: the store the rate limits of every instance share. `degraded` while Redis is unreachable or too slow: requests are then served without rate limits, and the instance stays ready.
                         * @enum {string}
                         */
                        redis?: "ok" | "degraded";
                        /** @description Present when Stripe is configured. Informational: an open breaker does not make the instance unready. */
                        stripe?: {
                            /**
                             * @description The Stripe circuit breaker: open means Stripe calls are answered 503 at once until a probe succeeds.
                             * @enum {string}
                             */
                            breaker: "closed" | "open" | "half_open";
                            /** @description Interactive Stripe calls in flight on this instance. */
                            in_flight: number;
                        };
                        /** @description The outgoing webhook endpoints' circuit breakers in this process (closed ones are not counted). Informational, like `stripe`. */
                        webhooks: {
                            /** @description Endpoints whose breaker is open: their deliveries wait for a probe. */
                            open: number;
                            /** @description Endpoints being probed after their cool-down. */
                            half_open: number;
                        };
                    };
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @enum {string} */
                        status: "ok" | "unavailable";
                        /** @enum {string} */
                        database: "ok" | "unavailable";
                        /**
                         * @description Present when REDIS_URL is set: the store the rate limits of every instance share. `degraded` while Redis is unreachable or too slow: requests are then served without rate limits, and the instance stays ready.
                         * @enum {string}
                         */
                        redis?: "ok" | "degraded";
                        /** @description Present when Stripe is configured. Informational: an open breaker does not make the instance unready. */
                        stripe?: {
                            /**
                             * @description The Stripe circuit breaker: open means Stripe calls are answered 503 at once until a probe succeeds.
                             * @enum {string}
                             */
                            breaker: "closed" | "open" | "half_open";
                            /** @description Interactive Stripe calls in flight on this instance. */
                            in_flight: number;
                        };
                        /** @description The outgoing webhook endpoints' circuit breakers in this process (closed ones are not counted). Informational, like `stripe`. */
                        webhooks: {
                            /** @description Endpoints whose breaker is open: their deliveries wait for a probe. */
                            open: number;
                            /** @description Endpoints being probed after their cool-down. */
                            half_open: number;
                        };
                    };
                };
            };
        };
    };
    metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example # HELP http_request_duration_seconds HTTP request latency by method, route template and status code
                     *     # TYPE http_request_duration_seconds histogram
                     *     http_request_duration_seconds_count{method="GET",route="/v1/plans",status_code="200"} 3
                     */
                    "text/plain": string;
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    register: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "email": "ann@example.com",
                 *       "password": "a long passphrase of mine",
                 *       "username": "ann",
                 *       "name": "Ann Smith"
                 *     }
                 */
                "application/json": {
                    /**
                     * Format: email
                     * @description Email address (unique, case-insensitive).
                     */
                    email: string;
                    /** @description at least 10 characters (at most 256), and hard to guess: common and breached passwords, names and patterns are refused. */
                    password: string;
                    username?: string;
                    name?: string;
                };
            };
        };
        responses: {
            /** @description Accepted; an email follows if the address belongs to an active account. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "accepted"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        status: "accepted";
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    token: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description JSON or application/x-www-form-urlencoded, as an OAuth2 token endpoint. With the password grant, the user is named by `username` (email or username) or `email`. */
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "email": "owner@example.com",
                 *       "password": "a long passphrase"
                 *     }
                 */
                "application/json": {
                    /**
                     * @description Defaults to `password`.
                     * @enum {string}
                     */
                    grant_type?: "password" | "refresh_token";
                    /** @description Email or username. */
                    username?: string;
                    /** @description The email, as registration takes it; the same as `username` (send one of the two). */
                    email?: string;
                    password?: string;
                    refresh_token?: string;
                };
                /**
                 * @example {
                 *       "email": "owner@example.com",
                 *       "password": "a long passphrase"
                 *     }
                 */
                "application/x-www-form-urlencoded": {
                    /**
                     * @description Defaults to `password`.
                     * @enum {string}
                     */
                    grant_type?: "password" | "refresh_token";
                    /** @description Email or username. */
                    username?: string;
                    /** @description The email, as registration takes it; the same as `username` (send one of the two). */
                    email?: string;
                    password?: string;
                    refresh_token?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiIwMTkyZjVjNCJ9.c2lnbmF0dXJl",
                     *       "token_type": "bearer",
                     *       "expires_in": 900,
                     *       "refresh_token": "pgr_Yp3Vb8sKq2mN5tW9xZ1aC4dF7gH0jL6e"
                     *     }
                     */
                    "application/json": {
                        access_token: string;
                        /** @enum {string} */
                        token_type: "bearer";
                        /** @description Seconds until the access token expires. */
                        expires_in: number;
                        /** @description Opaque; single use: every refresh returns a new one. */
                        refresh_token: string;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    refresh: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: {
            content: {
                /**
                 * @example {
                 *       "refresh_token": "pgr_Yp3Vb8sKq2mN5tW9xZ1aC4dF7gH0jL6e"
                 *     }
                 */
                "application/json": {
                    /** @description Or the `refresh_token` cookie. */
                    refresh_token?: string;
                } | null;
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiIwMTkyZjVjNCJ9.c2lnbmF0dXJl",
                     *       "token_type": "bearer",
                     *       "expires_in": 900,
                     *       "refresh_token": "pgr_Yp3Vb8sKq2mN5tW9xZ1aC4dF7gH0jL6e"
                     *     }
                     */
                    "application/json": {
                        access_token: string;
                        /** @enum {string} */
                        token_type: "bearer";
                        /** @description Seconds until the access token expires. */
                        expires_in: number;
                        /** @description Opaque; single use: every refresh returns a new one. */
                        refresh_token: string;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    logout: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: {
            content: {
                /**
                 * @example {
                 *       "refresh_token": "pgr_Yp3Vb8sKq2mN5tW9xZ1aC4dF7gH0jL6e"
                 *     }
                 */
                "application/json": {
                    /** @description Or the `refresh_token` cookie. */
                    refresh_token?: string;
                } | null;
            };
        };
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getMe: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c4-7a1e-7c3b-9d2e-4f5a6b7c8d90",
                     *       "email": "ann@example.com",
                     *       "username": "ann",
                     *       "name": "Ann Smith",
                     *       "image_url": null,
                     *       "provider": "local",
                     *       "is_verified": true,
                     *       "is_admin": false,
                     *       "is_active": true,
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "updated_at": "2026-11-02T10:30:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["User"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    updateMe: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "Ann Smith",
                 *       "username": "ann",
                 *       "image_url": "https://images.example.com/ann.png"
                 *     }
                 */
                "application/json": {
                    name?: string | null;
                    username?: string | null;
                    image_url?: string | null;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c4-7a1e-7c3b-9d2e-4f5a6b7c8d90",
                     *       "email": "ann@example.com",
                     *       "username": "ann",
                     *       "name": "Ann Smith",
                     *       "image_url": null,
                     *       "provider": "local",
                     *       "is_verified": true,
                     *       "is_admin": false,
                     *       "is_active": true,
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "updated_at": "2026-11-02T10:30:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["User"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    jwks: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "keys": [
                     *         {
                     *           "kty": "OKP",
                     *           "crv": "Ed25519",
                     *           "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                     *           "kid": "k1",
                     *           "alg": "EdDSA",
                     *           "use": "sig"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        keys: {
                            [key: string]: unknown;
                        }[];
                    };
                };
            };
        };
    };
    listSignInOptions: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "password": true,
                     *       "login_code": true,
                     *       "oauth": [
                     *         {
                     *           "provider": "google",
                     *           "label": "Google",
                     *           "start_url": "/v1/auth/oauth/google/start"
                     *         },
                     *         {
                     *           "provider": "github",
                     *           "label": "GitHub",
                     *           "start_url": "/v1/auth/oauth/github/start"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["SignInOptions"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    oauthStart: {
        parameters: {
            query?: {
                /** @description `app`: a sign-in from the web UI. The callback then ends on the UI (302 to `APP_URL/sign-in?oauth=complete&next=…` with the refresh cookie set, or `?oauth_error=<code>`) instead of answering JSON. */
                redirect?: "app";
                /** @description With `redirect=app`: the UI path to go to once signed in (default `/app`). */
                next?: string;
            };
            header?: never;
            path: {
                /** @description The identity provider. */
                provider: "google" | "github";
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Redirect to the provider's authorization page. */
            302: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: the provider is not configured. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    oauthCallback: {
        parameters: {
            query: {
                /** @description The authorization code (absent when refused). */
                code?: string;
                /** @description Must equal the state /start put in the flow cookie. */
                state: string;
                /** @description Set by the provider when the user declined (e.g. `access_denied`). */
                error?: string;
            };
            header?: never;
            path: {
                /** @description The identity provider. */
                provider: "google" | "github";
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiIwMTkyZjVjNCJ9.c2lnbmF0dXJl",
                     *       "token_type": "bearer",
                     *       "expires_in": 900,
                     *       "refresh_token": "pgr_Yp3Vb8sKq2mN5tW9xZ1aC4dF7gH0jL6e"
                     *     }
                     */
                    "application/json": {
                        access_token: string;
                        /** @enum {string} */
                        token_type: "bearer";
                        /** @description Seconds until the access token expires. */
                        expires_in: number;
                        /** @description Opaque; single use: every refresh returns a new one. */
                        refresh_token: string;
                    };
                };
            };
            /** @description A browser sign-in (`redirect=app`): to the web UI, signed in (refresh cookie set) or with `oauth_error`; else signed in, to OAUTH_SUCCESS_URL with the refresh cookie set. */
            302: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: the provider is not configured. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `provider_unavailable`, `service_busy` or `service_unavailable`. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    requestEmailVerification: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Accepted; an email follows if the address belongs to an active account. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "accepted"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        status: "accepted";
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    verifyEmail: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "token": "pgv_Q8wE3rT6yU9iO2pA5sD8fG1hJ4kL7zX0"
                 *     }
                 */
                "application/json": {
                    /** @description The `token` of the emailed link. */
                    token: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c4-7a1e-7c3b-9d2e-4f5a6b7c8d90",
                     *       "email": "ann@example.com",
                     *       "username": "ann",
                     *       "name": "Ann Smith",
                     *       "image_url": null,
                     *       "provider": "local",
                     *       "is_verified": true,
                     *       "is_admin": false,
                     *       "is_active": true,
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "updated_at": "2026-11-02T10:30:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["User"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    forgotPassword: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "email": "ann@example.com"
                 *     }
                 */
                "application/json": {
                    /** @description The account email. */
                    email: string;
                };
            };
        };
        responses: {
            /** @description Accepted; an email follows if the address belongs to an active account. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "accepted"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        status: "accepted";
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    resetPassword: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "token": "pgr_M3nB6vC9xZ2lK5jH8gF1dS4aP7oI0uY",
                 *       "new_password": "another long passphrase"
                 *     }
                 */
                "application/json": {
                    /** @description The `token` of the reset link. */
                    token: string;
                    /** @description at least 10 characters (at most 256), and hard to guess: common and breached passwords, names and patterns are refused. */
                    new_password: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    changePassword: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "current_password": "a long passphrase of mine",
                 *       "new_password": "another long passphrase"
                 *     }
                 */
                "application/json": {
                    current_password: string;
                    /** @description at least 10 characters (at most 256), and hard to guess: common and breached passwords, names and patterns are refused. */
                    new_password: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    requestLoginCode: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "email": "ann@example.com"
                 *     }
                 */
                "application/json": {
                    /** @description The account email. */
                    email: string;
                };
            };
        };
        responses: {
            /** @description Accepted; an email follows if the address belongs to an active account. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "accepted"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        status: "accepted";
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    verifyLoginCode: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "email": "ann@example.com",
                 *       "code": "493817"
                 *     }
                 */
                "application/json": {
                    email: string;
                    /** @description The 6-digit code from the email. */
                    code: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiIwMTkyZjVjNCJ9.c2lnbmF0dXJl",
                     *       "token_type": "bearer",
                     *       "expires_in": 900,
                     *       "refresh_token": "pgr_Yp3Vb8sKq2mN5tW9xZ1aC4dF7gH0jL6e"
                     *     }
                     */
                    "application/json": {
                        access_token: string;
                        /** @enum {string} */
                        token_type: "bearer";
                        /** @description Seconds until the access token expires. */
                        expires_in: number;
                        /** @description Opaque; single use: every refresh returns a new one. */
                        refresh_token: string;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deactivate: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listAccounts: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
                /** @description Only the account with this external id, among the caller's accounts: a page of one, or of none when no such account exists or the caller is not its member. */
                external_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *           "name": "Chic-Chic",
                     *           "timezone": "Europe/Paris",
                     *           "external_id": "salon-8421",
                     *           "role": "owner",
                     *           "created_at": "2026-11-01T09:00:00.000Z",
                     *           "updated_at": "2026-11-01T09:00:00.000Z"
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["Account"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createAccount: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes this POST safe to retry: a retry with the same key returns the first response. */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "Chic-Chic",
                 *       "timezone": "Europe/Paris",
                 *       "external_id": "salon-8421"
                 *     }
                 */
                "application/json": {
                    name: string;
                    /**
                     * @description IANA time zone; per-day limits count days in it.
                     * @default UTC
                     */
                    timezone?: string;
                    /** @description The integrating product's own id for this tenant (see `Account.external_id`); site API keys only; omitted or null: none. */
                    external_id?: string | null;
                    /**
                     * Format: email
                     * @description Site API keys only: the address invited as the owner (an invitation email with an accept link). Until someone accepts, the address stands in for the owner in billing emails and in the one-trial-per-owner rule. A signed-in creator is the owner, so a user may not send it.
                     */
                    owner_email?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "name": "Chic-Chic",
                     *       "timezone": "Europe/Paris",
                     *       "external_id": "salon-8421",
                     *       "role": "owner",
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "updated_at": "2026-11-01T09:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Account"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAccount: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "name": "Chic-Chic",
                     *       "timezone": "Europe/Paris",
                     *       "external_id": "salon-8421",
                     *       "role": "owner",
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "updated_at": "2026-11-01T09:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Account"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    updateAccount: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "Chic-Chic Paris",
                 *       "timezone": "Europe/Paris"
                 *     }
                 */
                "application/json": {
                    name?: string;
                    /** @description IANA time zone; per-day limits count days in it. */
                    timezone?: string;
                    /** @description Sets or changes the external id (site API keys only); null clears it; omitted leaves it as it is. */
                    external_id?: string | null;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "name": "Chic-Chic",
                     *       "timezone": "Europe/Paris",
                     *       "external_id": "salon-8421",
                     *       "role": "owner",
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "updated_at": "2026-11-01T09:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Account"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listMembers: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
            };
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "user_id": "0197a1b2-0000-7000-8000-000000000003",
                     *           "email": "ann@example.com",
                     *           "name": "Ann",
                     *           "role": "admin",
                     *           "created_at": "2030-03-11T08:30:00.000Z"
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["Member"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    removeMember: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
                userId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    changeMemberRole: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
                userId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "role": "admin"
                 *     }
                 */
                "application/json": {
                    /**
                     * @description The new role; only an owner makes or unmakes an owner.
                     * @enum {string}
                     */
                    role: "owner" | "admin" | "member";
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "user_id": "0197a1b2-0000-7000-8000-000000000003",
                     *       "email": "ann@example.com",
                     *       "name": "Ann",
                     *       "role": "admin",
                     *       "created_at": "2030-03-11T08:30:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Member"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listInvitations: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
                /** @description Only invitations in this state. */
                status?: "pending" | "accepted" | "revoked" | "expired";
            };
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0197a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b",
                     *           "account_id": "0197a1b2-0000-7000-8000-000000000001",
                     *           "email": "ann@example.com",
                     *           "role": "member",
                     *           "status": "pending",
                     *           "invited_by": "0197a1b2-0000-7000-8000-000000000002",
                     *           "expires_at": "2030-03-17T10:00:00.000Z",
                     *           "accepted_at": null,
                     *           "revoked_at": null,
                     *           "created_at": "2030-03-10T10:00:00.000Z",
                     *           "updated_at": "2030-03-10T10:00:00.000Z"
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["Invitation"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createInvitation: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes this POST safe to retry: a retry with the same key returns the first response. */
                "idempotency-key"?: string;
            };
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "email": "ann@example.com",
                 *       "role": "member"
                 *     }
                 */
                "application/json": {
                    /**
                     * Format: email
                     * @description Where the invitation goes; it may or may not belong to a user yet.
                     */
                    email: string;
                    /**
                     * @description The role on acceptance; only an owner invites an owner.
                     * @default member
                     * @enum {string}
                     */
                    role?: "owner" | "admin" | "member";
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0197a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b",
                     *       "account_id": "0197a1b2-0000-7000-8000-000000000001",
                     *       "email": "ann@example.com",
                     *       "role": "member",
                     *       "status": "pending",
                     *       "invited_by": "0197a1b2-0000-7000-8000-000000000002",
                     *       "expires_at": "2030-03-17T10:00:00.000Z",
                     *       "accepted_at": null,
                     *       "revoked_at": null,
                     *       "created_at": "2030-03-10T10:00:00.000Z",
                     *       "updated_at": "2030-03-10T10:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Invitation"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description already_member, or conflict (Idempotency-Key reused) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    revokeInvitation: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
                /** @description Invitation id */
                invitationId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    acceptInvitation: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes this POST safe to retry: a retry with the same key returns the first response. */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "token": "Q2hpYy1DaGljIGludml0YXRpb24gdG9rZW4gZXhhbXBsZQ"
                 *     }
                 */
                "application/json": {
                    /** @description The `token` of the emailed invitation link. */
                    token: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "account": {
                     *         "id": "0197a1b2-0000-7000-8000-000000000001",
                     *         "name": "Chic-Chic",
                     *         "timezone": "Europe/Paris",
                     *         "external_id": null,
                     *         "role": "member",
                     *         "created_at": "2030-03-01T09:00:00.000Z",
                     *         "updated_at": "2030-03-01T09:00:00.000Z"
                     *       },
                     *       "invitation": {
                     *         "id": "0197a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b",
                     *         "account_id": "0197a1b2-0000-7000-8000-000000000001",
                     *         "email": "ann@example.com",
                     *         "role": "member",
                     *         "status": "accepted",
                     *         "invited_by": "0197a1b2-0000-7000-8000-000000000002",
                     *         "expires_at": "2030-03-17T10:00:00.000Z",
                     *         "accepted_at": "2030-03-11T08:30:00.000Z",
                     *         "revoked_at": null,
                     *         "created_at": "2030-03-10T10:00:00.000Z",
                     *         "updated_at": "2030-03-10T10:00:00.000Z"
                     *       }
                     *     }
                     */
                    "application/json": {
                        account: components["schemas"]["Account"];
                        invitation: components["schemas"]["Invitation"];
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description invitation_email_mismatch or email_not_verified */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description invitation_not_found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description already_member, or conflict (Idempotency-Key reused) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description invitation_expired, invitation_revoked or invitation_used */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listSiteApiKeys: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
                /** @description Lists this account's keys instead of the site keys. */
                account_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0193a1b2-6c4d-7e8f-9a0b-1c2d3e4f5a6b",
                     *           "name": "booking backend",
                     *           "prefix": "pgk_Zm9vYmFy",
                     *           "scopes": [
                     *             "entitlements:read",
                     *             "resources:write"
                     *           ],
                     *           "account_id": null,
                     *           "created_at": "2026-12-07T10:00:00.000Z",
                     *           "last_used_at": null,
                     *           "expires_at": null,
                     *           "revoked_at": null
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["ApiKey"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createSiteApiKey: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes this POST safe to retry: a retry with the same key returns the first response. */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "booking backend",
                 *       "scopes": [
                 *         "entitlements:read",
                 *         "resources:write"
                 *       ]
                 *     }
                 */
                "application/json": {
                    /** @description A name to recognise the key by. */
                    name: string;
                    scopes: ("accounts:read" | "accounts:write" | "subscriptions:write" | "entitlements:read" | "usage:write" | "resources:write" | "plans:write")[];
                    /** @description When the key stops working (ISO 8601); none: it works until revoked. */
                    expires_at?: string | null;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0193a1b2-6c4d-7e8f-9a0b-1c2d3e4f5a6b",
                     *       "name": "booking backend",
                     *       "prefix": "pgk_Zm9vYmFy",
                     *       "scopes": [
                     *         "entitlements:read",
                     *         "resources:write"
                     *       ],
                     *       "account_id": null,
                     *       "created_at": "2026-12-07T10:00:00.000Z",
                     *       "last_used_at": null,
                     *       "expires_at": null,
                     *       "revoked_at": null,
                     *       "key": "pgk_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
                     *     }
                     */
                    "application/json": components["schemas"]["CreatedApiKey"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    revokeSiteApiKey: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                keyId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0193a1b2-6c4d-7e8f-9a0b-1c2d3e4f5a6b",
                     *       "name": "booking backend",
                     *       "prefix": "pgk_Zm9vYmFy",
                     *       "scopes": [
                     *         "entitlements:read",
                     *         "resources:write"
                     *       ],
                     *       "account_id": null,
                     *       "created_at": "2026-12-07T10:00:00.000Z",
                     *       "last_used_at": null,
                     *       "expires_at": null,
                     *       "revoked_at": null
                     *     }
                     */
                    "application/json": components["schemas"]["ApiKey"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listAccountApiKeys: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
            };
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0193a1b2-6c4d-7e8f-9a0b-1c2d3e4f5a6b",
                     *           "name": "booking backend",
                     *           "prefix": "pgk_Zm9vYmFy",
                     *           "scopes": [
                     *             "entitlements:read",
                     *             "resources:write"
                     *           ],
                     *           "account_id": null,
                     *           "created_at": "2026-12-07T10:00:00.000Z",
                     *           "last_used_at": null,
                     *           "expires_at": null,
                     *           "revoked_at": null
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["ApiKey"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createAccountApiKey: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes this POST safe to retry: a retry with the same key returns the first response. */
                "idempotency-key"?: string;
            };
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "booking backend",
                 *       "scopes": [
                 *         "entitlements:read",
                 *         "resources:write"
                 *       ]
                 *     }
                 */
                "application/json": {
                    /** @description A name to recognise the key by. */
                    name: string;
                    scopes: ("accounts:read" | "accounts:write" | "subscriptions:write" | "entitlements:read" | "usage:write" | "resources:write" | "plans:write")[];
                    /** @description When the key stops working (ISO 8601); none: it works until revoked. */
                    expires_at?: string | null;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0193a1b2-6c4d-7e8f-9a0b-1c2d3e4f5a6b",
                     *       "name": "booking backend",
                     *       "prefix": "pgk_Zm9vYmFy",
                     *       "scopes": [
                     *         "entitlements:read",
                     *         "resources:write"
                     *       ],
                     *       "account_id": null,
                     *       "created_at": "2026-12-07T10:00:00.000Z",
                     *       "last_used_at": null,
                     *       "expires_at": null,
                     *       "revoked_at": null,
                     *       "key": "pgk_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
                     *     }
                     */
                    "application/json": components["schemas"]["CreatedApiKey"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    revokeAccountApiKey: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                accountId: string;
                keyId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0193a1b2-6c4d-7e8f-9a0b-1c2d3e4f5a6b",
                     *       "name": "booking backend",
                     *       "prefix": "pgk_Zm9vYmFy",
                     *       "scopes": [
                     *         "entitlements:read",
                     *         "resources:write"
                     *       ],
                     *       "account_id": null,
                     *       "created_at": "2026-12-07T10:00:00.000Z",
                     *       "last_used_at": null,
                     *       "expires_at": null,
                     *       "revoked_at": null
                     *     }
                     */
                    "application/json": components["schemas"]["ApiKey"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listPlans: {
        parameters: {
            query?: {
                /** @description Site admins and site keys with plans:write only: include retired plans. */
                include_inactive?: "true" | "false";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "code": "basic",
                     *           "name": "Basic",
                     *           "description": "For a small salon.",
                     *           "price_cents": 1900,
                     *           "currency": "usd",
                     *           "interval": "month",
                     *           "tier": 1,
                     *           "trial_days": 14,
                     *           "limits": {
                     *             "staff": 2,
                     *             "bookings_per_day": 5
                     *           },
                     *           "features": {
                     *             "sms_reminders": false
                     *           },
                     *           "is_active": true
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["Plan"][];
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createPlan: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes this POST safe to retry: a retry with the same key returns the first response. */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "code": "team",
                 *       "name": "Team",
                 *       "description": "For a growing salon.",
                 *       "price_cents": 4900,
                 *       "currency": "usd",
                 *       "interval": "month",
                 *       "tier": 2,
                 *       "trial_days": 14,
                 *       "limits": {
                 *         "staff": 10,
                 *         "bookings_per_day": null
                 *       },
                 *       "features": {
                 *         "sms_reminders": true
                 *       }
                 *     }
                 */
                "application/json": {
                    /** @description Plan code (slug). */
                    code: string;
                    name: string;
                    /** @default  */
                    description?: string;
                    price_cents: number;
                    currency?: string;
                    /**
                     * @default month
                     * @enum {string}
                     */
                    interval?: "month" | "year";
                    /** @default 0 */
                    tier?: number;
                    /** @default 0 */
                    trial_days?: number;
                    /**
                     * @description Feature key → limit; null = unlimited, a missing key = not included. Keys ending `_per_day`/`_per_month` count events per period, others count live resources.
                     * @default {}
                     */
                    limits?: {
                        [key: string]: number | null;
                    };
                    /**
                     * @description Boolean feature flags.
                     * @default {}
                     */
                    features?: {
                        [key: string]: boolean;
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "code": "basic",
                     *       "name": "Basic",
                     *       "description": "For a small salon.",
                     *       "price_cents": 1900,
                     *       "currency": "usd",
                     *       "interval": "month",
                     *       "tier": 1,
                     *       "trial_days": 14,
                     *       "limits": {
                     *         "staff": 2,
                     *         "bookings_per_day": 5
                     *       },
                     *       "features": {
                     *         "sms_reminders": false
                     *       },
                     *       "is_active": true
                     *     }
                     */
                    "application/json": components["schemas"]["Plan"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getPlan: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Plan code (slug). */
                code: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "code": "basic",
                     *       "name": "Basic",
                     *       "description": "For a small salon.",
                     *       "price_cents": 1900,
                     *       "currency": "usd",
                     *       "interval": "month",
                     *       "tier": 1,
                     *       "trial_days": 14,
                     *       "limits": {
                     *         "staff": 2,
                     *         "bookings_per_day": 5
                     *       },
                     *       "features": {
                     *         "sms_reminders": false
                     *       },
                     *       "is_active": true
                     *     }
                     */
                    "application/json": components["schemas"]["Plan"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retirePlan: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Plan code (slug). */
                code: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    updatePlan: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Plan code (slug). */
                code: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "price_cents": 2400,
                 *       "limits": {
                 *         "staff": 3,
                 *         "bookings_per_day": 8
                 *       }
                 *     }
                 */
                "application/json": {
                    name?: string;
                    description?: string;
                    price_cents?: number;
                    currency?: string;
                    /** @enum {string} */
                    interval?: "month" | "year";
                    tier?: number;
                    trial_days?: number;
                    /** @description Feature key → limit; null = unlimited, a missing key = not included. Keys ending `_per_day`/`_per_month` count events per period, others count live resources. */
                    limits?: {
                        [key: string]: number | null;
                    };
                    /** @description Boolean feature flags. */
                    features?: {
                        [key: string]: boolean;
                    };
                    /** @description Set true to bring back a retired plan. */
                    is_active?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "code": "basic",
                     *       "name": "Basic",
                     *       "description": "For a small salon.",
                     *       "price_cents": 1900,
                     *       "currency": "usd",
                     *       "interval": "month",
                     *       "tier": 1,
                     *       "trial_days": 14,
                     *       "limits": {
                     *         "staff": 2,
                     *         "bookings_per_day": 5
                     *       },
                     *       "features": {
                     *         "sms_reminders": false
                     *       },
                     *       "is_active": true
                     *     }
                     */
                    "application/json": components["schemas"]["Plan"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getSubscription: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
                     *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "plan": "basic",
                     *       "status": "active",
                     *       "has_access": true,
                     *       "provider": "manual",
                     *       "price": {
                     *         "amount_cents": 1900,
                     *         "currency": "usd",
                     *         "interval": "month"
                     *       },
                     *       "current_period_start": "2026-11-01T09:00:00.000Z",
                     *       "current_period_end": "2026-12-01T09:00:00.000Z",
                     *       "cancel_at_period_end": false,
                     *       "canceled_at": null,
                     *       "ended_at": null,
                     *       "trial_end": null,
                     *       "grace_until": null,
                     *       "pending_plan": null,
                     *       "checkout_url": null,
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "updated_at": "2026-11-01T09:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Subscription"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    subscribe: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes this POST safe to retry: a retry with the same key returns the first response. */
                "idempotency-key"?: string;
            };
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "plan": "basic"
                 *     }
                 */
                "application/json": {
                    /** @description Plan code (slug). */
                    plan: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
                     *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "plan": "basic",
                     *       "status": "active",
                     *       "has_access": true,
                     *       "provider": "manual",
                     *       "price": {
                     *         "amount_cents": 1900,
                     *         "currency": "usd",
                     *         "interval": "month"
                     *       },
                     *       "current_period_start": "2026-11-01T09:00:00.000Z",
                     *       "current_period_end": "2026-12-01T09:00:00.000Z",
                     *       "cancel_at_period_end": false,
                     *       "canceled_at": null,
                     *       "ended_at": null,
                     *       "trial_end": null,
                     *       "grace_until": null,
                     *       "pending_plan": null,
                     *       "checkout_url": null,
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "updated_at": "2026-11-01T09:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Subscription"];
                };
            };
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "checkout_url": "https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4",
                     *       "checkout_expires_at": "2026-11-02T09:00:00.000Z",
                     *       "subscription": {
                     *         "id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
                     *         "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *         "plan": "basic",
                     *         "status": "incomplete",
                     *         "has_access": false,
                     *         "provider": "stripe",
                     *         "price": {
                     *           "amount_cents": 1900,
                     *           "currency": "usd",
                     *           "interval": "month"
                     *         },
                     *         "current_period_start": "2026-11-01T09:00:00.000Z",
                     *         "current_period_end": "2026-12-01T09:00:00.000Z",
                     *         "cancel_at_period_end": false,
                     *         "canceled_at": null,
                     *         "ended_at": null,
                     *         "trial_end": null,
                     *         "grace_until": null,
                     *         "pending_plan": null,
                     *         "checkout_url": "https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4",
                     *         "created_at": "2026-11-01T09:00:00.000Z",
                     *         "updated_at": "2026-11-01T09:00:00.000Z"
                     *       }
                     *     }
                     */
                    "application/json": components["schemas"]["CheckoutStarted"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    changePlan: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "plan": "pro",
                 *       "when": "now"
                 *     }
                 */
                "application/json": {
                    /** @description Plan code (slug). */
                    plan: string;
                    /**
                     * @description `now`: switch at once (an upgrade is invoiced pro rata); `period_end`: schedule the change.
                     * @default now
                     * @enum {string}
                     */
                    when?: "now" | "period_end";
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
                     *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "plan": "basic",
                     *       "status": "active",
                     *       "has_access": true,
                     *       "provider": "manual",
                     *       "price": {
                     *         "amount_cents": 1900,
                     *         "currency": "usd",
                     *         "interval": "month"
                     *       },
                     *       "current_period_start": "2026-11-01T09:00:00.000Z",
                     *       "current_period_end": "2026-12-01T09:00:00.000Z",
                     *       "cancel_at_period_end": false,
                     *       "canceled_at": null,
                     *       "ended_at": null,
                     *       "trial_end": null,
                     *       "grace_until": null,
                     *       "pending_plan": null,
                     *       "checkout_url": null,
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "updated_at": "2026-11-01T09:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Subscription"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listSubscriptionHistory: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
            };
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0192f5c4-a1b2-7c3d-8e4f-5a6b7c8d9e0f",
                     *           "subscription_id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
                     *           "type": "upgraded",
                     *           "from_status": "active",
                     *           "to_status": "active",
                     *           "from_plan": "basic",
                     *           "plan": "pro",
                     *           "price": {
                     *             "amount_cents": 4900,
                     *             "currency": "usd",
                     *             "interval": "month"
                     *           },
                     *           "actor_user_id": "0192f5c4-7a1e-7b3c-9d2e-4f5a6b7c8d90",
                     *           "data": {
                     *             "changed": [
                     *               "plan"
                     *             ],
                     *             "amount_cents": 1500
                     *           },
                     *           "created_at": "2026-11-15T10:30:00.000Z"
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["SubscriptionEvent"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    previewPlanChange: {
        parameters: {
            query: {
                /** @description Code of the plan to preview. */
                plan: string;
            };
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "plan": "pro",
                     *       "current_plan": "basic",
                     *       "change": "upgrade",
                     *       "currency": "usd",
                     *       "amount_due_now_cents": 1500,
                     *       "price_difference_cents": 3000,
                     *       "next_period_price_cents": 4900,
                     *       "period_end": "2026-12-01T09:00:00.000Z",
                     *       "trial_end": null,
                     *       "exceeded_limits": []
                     *     }
                     */
                    "application/json": components["schemas"]["ChangePreview"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    cancelSubscription: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                /**
                 * @example {
                 *       "at_period_end": true
                 *     }
                 */
                "application/json": {
                    /**
                     * @description true: keep access until the period ends; false: end access now.
                     * @default true
                     */
                    at_period_end?: boolean;
                } | null;
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
                     *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "plan": "basic",
                     *       "status": "active",
                     *       "has_access": true,
                     *       "provider": "manual",
                     *       "price": {
                     *         "amount_cents": 1900,
                     *         "currency": "usd",
                     *         "interval": "month"
                     *       },
                     *       "current_period_start": "2026-11-01T09:00:00.000Z",
                     *       "current_period_end": "2026-12-01T09:00:00.000Z",
                     *       "cancel_at_period_end": false,
                     *       "canceled_at": null,
                     *       "ended_at": null,
                     *       "trial_end": null,
                     *       "grace_until": null,
                     *       "pending_plan": null,
                     *       "checkout_url": null,
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "updated_at": "2026-11-01T09:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Subscription"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    resumeSubscription: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
                     *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "plan": "basic",
                     *       "status": "active",
                     *       "has_access": true,
                     *       "provider": "manual",
                     *       "price": {
                     *         "amount_cents": 1900,
                     *         "currency": "usd",
                     *         "interval": "month"
                     *       },
                     *       "current_period_start": "2026-11-01T09:00:00.000Z",
                     *       "current_period_end": "2026-12-01T09:00:00.000Z",
                     *       "cancel_at_period_end": false,
                     *       "canceled_at": null,
                     *       "ended_at": null,
                     *       "trial_end": null,
                     *       "grace_until": null,
                     *       "pending_plan": null,
                     *       "checkout_url": null,
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "updated_at": "2026-11-01T09:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Subscription"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listInvoices: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
            };
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0192f5c5-2f6d-7b80-827d-9e0f1a2b3c45",
                     *           "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *           "subscription_id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
                     *           "provider": "manual",
                     *           "provider_invoice_id": "manual_0192f5c5",
                     *           "amount_cents": 1900,
                     *           "currency": "usd",
                     *           "status": "paid",
                     *           "description": "Basic, Nov 1 – Dec 1, 2026",
                     *           "period_start": "2026-11-01T09:00:00.000Z",
                     *           "period_end": "2026-12-01T09:00:00.000Z",
                     *           "hosted_url": null,
                     *           "paid_at": "2026-11-01T09:05:00.000Z",
                     *           "created_at": "2026-11-01T09:00:00.000Z"
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["Invoice"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createBillingPortalSession: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "url": "https://billing.stripe.com/p/session/test_YWNjdF8xTjhx"
                     *     }
                     */
                    "application/json": {
                        /** @description Send the customer here: Stripe's Customer Portal. */
                        url: string;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    markInvoicePaid: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c5-2f6d-7b80-827d-9e0f1a2b3c45",
                     *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "subscription_id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
                     *       "provider": "manual",
                     *       "provider_invoice_id": "manual_0192f5c5",
                     *       "amount_cents": 1900,
                     *       "currency": "usd",
                     *       "status": "paid",
                     *       "description": "Basic, Nov 1 – Dec 1, 2026",
                     *       "period_start": "2026-11-01T09:00:00.000Z",
                     *       "period_end": "2026-12-01T09:00:00.000Z",
                     *       "hosted_url": null,
                     *       "paid_at": "2026-11-01T09:05:00.000Z",
                     *       "created_at": "2026-11-01T09:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Invoice"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    markInvoiceFailed: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c5-2f6d-7b80-827d-9e0f1a2b3c45",
                     *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "subscription_id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
                     *       "provider": "manual",
                     *       "provider_invoice_id": "manual_0192f5c5",
                     *       "amount_cents": 1900,
                     *       "currency": "usd",
                     *       "status": "paid",
                     *       "description": "Basic, Nov 1 – Dec 1, 2026",
                     *       "period_start": "2026-11-01T09:00:00.000Z",
                     *       "period_end": "2026-12-01T09:00:00.000Z",
                     *       "hosted_url": null,
                     *       "paid_at": "2026-11-01T09:05:00.000Z",
                     *       "created_at": "2026-11-01T09:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Invoice"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    receiveStripeWebhook: {
        parameters: {
            query?: never;
            header?: {
                "stripe-signature"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "received": true,
                     *       "duplicate": false
                     *     }
                     */
                    "application/json": {
                        /** @enum {boolean} */
                        received: true;
                        /** @description True when this event id was already processed: nothing was done again. */
                        duplicate: boolean;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getEntitlements: {
        parameters: {
            query?: {
                /** @description Day (account-local) for per-period figures; default today. */
                date?: string;
            };
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "plan": "basic",
                     *       "status": "active",
                     *       "has_access": true,
                     *       "timezone": "Europe/Paris",
                     *       "features": {
                     *         "staff": {
                     *           "kind": "count",
                     *           "limit": 2,
                     *           "used": 1,
                     *           "remaining": 1,
                     *           "over_limit": false
                     *         },
                     *         "bookings_per_day": {
                     *           "kind": "per_day",
                     *           "date": "2026-11-28",
                     *           "resets_at": "2026-11-28T23:00:00.000Z",
                     *           "limit": 5,
                     *           "used": 3,
                     *           "remaining": 2,
                     *           "over_limit": false
                     *         },
                     *         "sms_reminders": {
                     *           "kind": "boolean",
                     *           "enabled": false
                     *         }
                     *       }
                     *     }
                     */
                    "application/json": components["schemas"]["Entitlements"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    recordUsage: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes this POST safe to retry: a retry with the same key returns the first response. */
                "idempotency-key"?: string;
            };
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "feature": "api_calls_per_month",
                 *       "quantity": 1
                 *     }
                 */
                "application/json": {
                    /** @description A metered feature: a key some plan names in `limits` and not a resource-backed one. */
                    feature: string;
                    /** @description Units to consume; negative to release units (never below zero). */
                    quantity: number;
                    /** @description For per-period features: the account-local day to count on; default today. */
                    date?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "feature": "api_calls_per_month",
                     *       "kind": "per_month",
                     *       "period": "2026-11",
                     *       "limit": 10000,
                     *       "used": 4211,
                     *       "remaining": 5789
                     *     }
                     */
                    "application/json": components["schemas"]["UsageResult"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getUsageHistory: {
        parameters: {
            query: {
                /** @description A limit counted per day (`…_per_day`, e.g. `bookings_per_day`) or per month (`…_per_month`). */
                feature: string;
                /** @description First account-local day of the range (for a monthly limit, its month); default: 29 days before `to` (11 months before, for a monthly limit). */
                from?: string;
                /** @description Last account-local day of the range, included (for a monthly limit, its month); default today in the account’s time zone. */
                to?: string;
            };
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "feature": "bookings_per_day",
                     *       "period_kind": "day",
                     *       "from": "2026-11-26",
                     *       "to": "2026-11-28",
                     *       "limit": 5,
                     *       "data": [
                     *         {
                     *           "period": "2026-11-26",
                     *           "used": 4
                     *         },
                     *         {
                     *           "period": "2026-11-27",
                     *           "used": 0
                     *         },
                     *         {
                     *           "period": "2026-11-28",
                     *           "used": 3
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["UsageHistory"];
                };
            };
            /** @description `validation_failed` (the input, or a range that is reversed or too long) or `no_usage_history` (a count limit or a flag). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found` (no such account, or not one the caller may see) or `unknown_feature`. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    checkFeature: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "feature": "bookings_per_day",
                 *       "quantity": 2,
                 *       "date": "2030-03-10"
                 *     }
                 */
                "application/json": {
                    /** @description Any known feature: a limit, metered or resource-backed (`staff`, `bookings_per_day`), or a flag. */
                    feature: string;
                    /**
                     * @description The units the caller means to use; default 1. Ignored for a flag.
                     * @default 1
                     */
                    quantity?: number;
                    /** @description A limit counted per day or per month: the account-local day to check (its month, for a monthly limit), as a booking starting that day would count; default today. Ignored for other features. */
                    date?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "allowed": true,
                     *       "feature": "bookings_per_day",
                     *       "limit": 5,
                     *       "used": 3,
                     *       "remaining": 2
                     *     }
                     */
                    "application/json": components["schemas"]["CheckResult"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listStaff: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
            };
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0192f5c5-0d4b-7f6e-a05b-7c8d9e0f1a23",
                     *           "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *           "name": "Ann",
                     *           "email": "ann@chic-chic.example",
                     *           "is_active": true,
                     *           "created_at": "2026-11-01T09:00:00.000Z"
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["Staff"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createStaff: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes this POST safe to retry: a retry with the same key returns the first response. */
                "idempotency-key"?: string;
            };
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "Ann",
                 *       "email": "ann@chic-chic.example"
                 *     }
                 */
                "application/json": {
                    name: string;
                    /** Format: email */
                    email?: string;
                    /** @default true */
                    is_active?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c5-0d4b-7f6e-a05b-7c8d9e0f1a23",
                     *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "name": "Ann",
                     *       "email": "ann@chic-chic.example",
                     *       "is_active": true,
                     *       "created_at": "2026-11-01T09:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Staff"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deleteStaff: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
                staffId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listBookings: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
                /** @description Only bookings on this account-local day. */
                date?: string;
                status?: "confirmed" | "canceled";
            };
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0192f5c5-1e5c-7a7f-b16c-8d9e0f1a2b34",
                     *           "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *           "staff_id": "0192f5c5-0d4b-7f6e-a05b-7c8d9e0f1a23",
                     *           "customer_name": "Zoé",
                     *           "starts_at": "2030-03-10T09:00:00.000Z",
                     *           "duration_minutes": 45,
                     *           "status": "confirmed",
                     *           "local_date": "2030-03-10",
                     *           "created_at": "2026-11-01T09:00:00.000Z",
                     *           "canceled_at": null
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["Booking"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createBooking: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes this POST safe to retry: a retry with the same key returns the first response. */
                "idempotency-key"?: string;
            };
            path: {
                /** @description Account id */
                accountId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "staff_id": "0192f5c5-0d4b-7f6e-a05b-7c8d9e0f1a23",
                 *       "customer_name": "Zoé",
                 *       "starts_at": "2030-03-10T10:00:00+01:00",
                 *       "duration_minutes": 45
                 *     }
                 */
                "application/json": {
                    /** @description One of the account's staff members. */
                    staff_id?: string | null;
                    customer_name: string;
                    /**
                     * Format: date-time
                     * @description ISO 8601 with offset; the booking counts on this day in the account time zone.
                     */
                    starts_at: string;
                    /** @default 60 */
                    duration_minutes?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c5-1e5c-7a7f-b16c-8d9e0f1a2b34",
                     *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "staff_id": "0192f5c5-0d4b-7f6e-a05b-7c8d9e0f1a23",
                     *       "customer_name": "Zoé",
                     *       "starts_at": "2030-03-10T09:00:00.000Z",
                     *       "duration_minutes": 45,
                     *       "status": "confirmed",
                     *       "local_date": "2030-03-10",
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "canceled_at": null
                     *     }
                     */
                    "application/json": components["schemas"]["Booking"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    cancelBooking: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Account id */
                accountId: string;
                bookingId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c5-1e5c-7a7f-b16c-8d9e0f1a2b34",
                     *       "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *       "staff_id": "0192f5c5-0d4b-7f6e-a05b-7c8d9e0f1a23",
                     *       "customer_name": "Zoé",
                     *       "starts_at": "2030-03-10T09:00:00.000Z",
                     *       "duration_minutes": 45,
                     *       "status": "confirmed",
                     *       "local_date": "2030-03-10",
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "canceled_at": null
                     *     }
                     */
                    "application/json": components["schemas"]["Booking"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listJobs: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
                state?: "created" | "retry" | "active" | "completed" | "cancelled" | "failed";
                name?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0192f5c5-8fc3-71e6-a8d3-5e6f7a8b9c01",
                     *           "name": "mail.send",
                     *           "state": "failed",
                     *           "data": {
                     *             "to": "ann@example.com"
                     *           },
                     *           "retry_count": 5,
                     *           "retry_limit": 5,
                     *           "output": {
                     *             "message": "SMTP server did not answer within 10 s"
                     *           },
                     *           "created_on": "2026-11-01T09:00:00.000Z",
                     *           "started_on": "2026-11-01T09:31:00.000Z",
                     *           "completed_on": "2026-11-01T09:31:10.000Z",
                     *           "start_after": "2026-11-01T09:31:00.000Z"
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["Job"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listMail: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0192f5c5-7eb2-70d5-97c2-4d5e6f7a8b90",
                     *           "to": "ann@example.com",
                     *           "from": "plangate <no-reply@localhost>",
                     *           "subject": "Your sign-in code",
                     *           "text": "Your code is 493817. It expires in 10 minutes.",
                     *           "html": "<p>Your code is <strong>493817</strong>. It expires in 10 minutes.</p>",
                     *           "reference": "job:0192f5c5-8fc3-71e6-a8d3-5e6f7a8b9c01",
                     *           "created_at": "2026-11-01T09:00:00.000Z"
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["OutboxMessage"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getMail: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The message id. */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c5-7eb2-70d5-97c2-4d5e6f7a8b90",
                     *       "to": "ann@example.com",
                     *       "from": "plangate <no-reply@localhost>",
                     *       "subject": "Your sign-in code",
                     *       "text": "Your code is 493817. It expires in 10 minutes.",
                     *       "html": "<p>Your code is <strong>493817</strong>. It expires in 10 minutes.</p>",
                     *       "reference": "job:0192f5c5-8fc3-71e6-a8d3-5e6f7a8b9c01",
                     *       "created_at": "2026-11-01T09:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["OutboxMessage"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listWebhookEndpoints: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
                /** @description Also list deleted endpoints (their delivery logs stay readable). */
                include_inactive?: "true" | "false";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0192f5c5-3a7e-7c91-938e-0f1a2b3c4d56",
                     *           "url": "https://hooks.example.com/plangate",
                     *           "events": [
                     *             "subscription.*",
                     *             "invoice.paid"
                     *           ],
                     *           "description": "Provisioning service",
                     *           "is_active": true,
                     *           "created_at": "2026-11-01T09:00:00.000Z"
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["WebhookEndpoint"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createWebhookEndpoint: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes this POST safe to retry: a retry with the same key returns the first response. */
                "idempotency-key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "url": "https://hooks.example.com/plangate",
                 *       "events": [
                 *         "subscription.*",
                 *         "invoice.paid"
                 *       ],
                 *       "description": "Provisioning service"
                 *     }
                 */
                "application/json": {
                    /**
                     * Format: uri
                     * @description Where events are POSTed; redirects are not followed.
                     */
                    url: string;
                    /**
                     * @description Event types to receive; `*` for all, `subscription.*` or `invoice.*` for a family.
                     * @default [
                     *       "*"
                     *     ]
                     */
                    events?: ("subscription.created" | "subscription.updated" | "subscription.canceled" | "subscription.resumed" | "subscription.expired" | "subscription.renewed" | "subscription.trial_will_end" | "invoice.created" | "invoice.paid" | "invoice.payment_failed" | "entitlements.updated" | "*" | "subscription.*" | "invoice.*")[];
                    /** @default  */
                    description?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c5-3a7e-7c91-938e-0f1a2b3c4d56",
                     *       "url": "https://hooks.example.com/plangate",
                     *       "events": [
                     *         "subscription.*",
                     *         "invoice.paid"
                     *       ],
                     *       "description": "Provisioning service",
                     *       "is_active": true,
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "secret": "whsec_pg_4f9a2c7e1b8d3f6a0c5e9b2d7f1a4c8e"
                     *     }
                     */
                    "application/json": components["schemas"]["CreatedWebhookEndpoint"];
                };
            };
            /** @description validation_failed, or url_not_allowed: an internal address or localhost */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deleteWebhookEndpoint: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listWebhookDeliveries: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
                status?: "pending" | "delivered" | "failed";
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0192f5c5-4b8f-7da2-a49f-1a2b3c4d5e67",
                     *           "event_id": "0192f5c5-5c90-7eb3-b5a0-2b3c4d5e6f78",
                     *           "event_type": "subscription.renewed",
                     *           "status": "delivered",
                     *           "attempts": 2,
                     *           "last_status_code": 200,
                     *           "last_error": null,
                     *           "last_duration_ms": 184,
                     *           "delivered_at": "2026-11-01T09:00:31.000Z",
                     *           "created_at": "2026-11-01T09:00:00.000Z",
                     *           "updated_at": "2026-11-01T09:00:31.000Z"
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["WebhookDelivery"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retryWebhookDelivery: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                /** @description The delivery's id, as the endpoint's delivery log lists it. */
                deliveryId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c5-4b8f-7da2-a49f-1a2b3c4d5e67",
                     *       "event_id": "0192f5c5-5c90-7eb3-b5a0-2b3c4d5e6f78",
                     *       "event_type": "subscription.renewed",
                     *       "status": "delivered",
                     *       "attempts": 2,
                     *       "last_status_code": 200,
                     *       "last_error": null,
                     *       "last_duration_ms": 184,
                     *       "delivered_at": "2026-11-01T09:00:31.000Z",
                     *       "created_at": "2026-11-01T09:00:00.000Z",
                     *       "updated_at": "2026-11-01T09:00:31.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["WebhookDelivery"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description conflict: the delivery is not `failed`, or its endpoint was deleted */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    adminListSubscriptions: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
                /** @description The stored status. A subscription whose period is over but not yet swept matches its stored status (e.g. `active`) while it reads `expired` in the result. */
                status?: "incomplete" | "trialing" | "active" | "past_due" | "canceled" | "expired";
                /** @description Plan code (slug). */
                plan?: string;
                provider?: "manual" | "stripe";
                account_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
                     *           "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *           "plan": "basic",
                     *           "status": "active",
                     *           "has_access": true,
                     *           "provider": "manual",
                     *           "price": {
                     *             "amount_cents": 1900,
                     *             "currency": "usd",
                     *             "interval": "month"
                     *           },
                     *           "current_period_start": "2026-11-01T09:00:00.000Z",
                     *           "current_period_end": "2026-12-01T09:00:00.000Z",
                     *           "cancel_at_period_end": false,
                     *           "canceled_at": null,
                     *           "ended_at": null,
                     *           "trial_end": null,
                     *           "grace_until": null,
                     *           "pending_plan": null,
                     *           "checkout_url": null,
                     *           "created_at": "2026-11-01T09:00:00.000Z",
                     *           "updated_at": "2026-11-01T09:00:00.000Z",
                     *           "account_name": "Chic-Chic"
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["AdminSubscription"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    adminListAccounts: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
                /** @description A case-insensitive part of the account name, or an exact account id. */
                q?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *           "name": "Chic-Chic",
                     *           "timezone": "Europe/Paris",
                     *           "created_at": "2026-11-01T09:00:00.000Z",
                     *           "stripe_customer_id": null,
                     *           "member_count": 2,
                     *           "owner_email": "ann@example.com",
                     *           "subscription": {
                     *             "id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
                     *             "plan": "basic",
                     *             "status": "active",
                     *             "has_access": true,
                     *             "current_period_end": "2026-12-01T09:00:00.000Z"
                     *           }
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["AdminAccount"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    adminMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "as_of": "2026-11-28T12:00:00.000Z",
                     *       "currency": "usd",
                     *       "mrr_cents": 68800,
                     *       "mrr_by_currency": {
                     *         "usd": 68800
                     *       },
                     *       "active_by_plan": [
                     *         {
                     *           "plan": "pro",
                     *           "currency": "usd",
                     *           "count": 8,
                     *           "mrr_cents": 39200
                     *         },
                     *         {
                     *           "plan": "basic",
                     *           "currency": "usd",
                     *           "count": 16,
                     *           "mrr_cents": 29600
                     *         }
                     *       ],
                     *       "trialing": 3,
                     *       "past_due": 1,
                     *       "active": 24,
                     *       "canceled_pending": 2,
                     *       "churn_30d": {
                     *         "canceled_or_expired": 1,
                     *         "active_at_start": 22,
                     *         "rate": 0.0455
                     *       }
                     *     }
                     */
                    "application/json": components["schemas"]["AdminMetrics"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    adminMetricsSeries: {
        parameters: {
            query?: {
                /** @description The first UTC day (default: 89 days before `to`). */
                from?: string;
                /** @description The last UTC day, at most today (default today). */
                to?: string;
                /** @description One point per day, per 7 days from `from`, or per calendar month from `from`; default day. */
                interval?: "day" | "week" | "month";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "as_of": "2026-11-28T12:00:00.000Z",
                     *       "currency": "usd",
                     *       "interval": "day",
                     *       "points": [
                     *         {
                     *           "date": "2026-11-27",
                     *           "end": "2026-11-28T00:00:00.000Z",
                     *           "mrr_cents": 63900,
                     *           "mrr_by_currency": {
                     *             "usd": 63900
                     *           },
                     *           "active_by_plan": [
                     *             {
                     *               "plan": "pro",
                     *               "currency": "usd",
                     *               "count": 7,
                     *               "mrr_cents": 34300
                     *             },
                     *             {
                     *               "plan": "basic",
                     *               "currency": "usd",
                     *               "count": 16,
                     *               "mrr_cents": 29600
                     *             }
                     *           ],
                     *           "trialing": 4,
                     *           "past_due": 1,
                     *           "active": 22,
                     *           "canceled_pending": 2,
                     *           "cancellations": 1,
                     *           "churned": 0
                     *         },
                     *         {
                     *           "date": "2026-11-28",
                     *           "end": "2026-11-28T12:00:00.000Z",
                     *           "mrr_cents": 68800,
                     *           "mrr_by_currency": {
                     *             "usd": 68800
                     *           },
                     *           "active_by_plan": [
                     *             {
                     *               "plan": "pro",
                     *               "currency": "usd",
                     *               "count": 8,
                     *               "mrr_cents": 39200
                     *             },
                     *             {
                     *               "plan": "basic",
                     *               "currency": "usd",
                     *               "count": 16,
                     *               "mrr_cents": 29600
                     *             }
                     *           ],
                     *           "trialing": 3,
                     *           "past_due": 1,
                     *           "active": 24,
                     *           "canceled_pending": 2,
                     *           "cancellations": 0,
                     *           "churned": 1
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["AdminMetricsSeries"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    adminListWebhookEvents: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
                /** @description The Stripe event type, e.g. `invoice.paid`. */
                type?: string;
                /** @description `false`: events still waiting to be applied (or failing). */
                processed?: "true" | "false";
                /** @description `payload` adds each event as Stripe sent it. */
                include?: "payload";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "evt_1QbCdEfGhIjKlMnO",
                     *           "type": "invoice.paid",
                     *           "event_created_at": "2026-11-01T09:00:00.000Z",
                     *           "received_at": "2026-11-01T09:00:01.000Z",
                     *           "processed_at": "2026-11-01T09:00:01.000Z",
                     *           "attempts": 1,
                     *           "last_error": null
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["ReceivedWebhookEvent"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    adminListAuditLog: {
        parameters: {
            query?: {
                /** @description Page size, 1–100. */
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
                /** @description A dotted verb, e.g. `auth.sign_in_failed`, or a prefix ending in `.*` (`auth.*`: every sign-in and credential event). */
                action?: string;
                account_id?: string;
                /** @description Who acted: `user`, `key` (an API key), `system`, `provider` or `anonymous`. */
                actor_type?: "user" | "key" | "system" | "provider" | "anonymous";
                actor_user_id?: string;
                actor_key_id?: string;
                subject_type?: string;
                subject_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         {
                     *           "id": "0192f5c5-6da1-7fc4-86b1-3c4d5e6f7a89",
                     *           "actor_type": "user",
                     *           "actor_user_id": "0192f5c4-7a1e-7c3b-9d2e-4f5a6b7c8d90",
                     *           "actor_key_id": null,
                     *           "account_id": "0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01",
                     *           "action": "subscription.canceled",
                     *           "subject_type": "subscription",
                     *           "subject_id": "0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12",
                     *           "data": {
                     *             "at_period_end": true
                     *           },
                     *           "created_at": "2026-11-20T15:04:00.000Z"
                     *         }
                     *       ],
                     *       "next_cursor": null
                     *     }
                     */
                    "application/json": {
                        data: components["schemas"]["AuditEntry"][];
                        /** @description Pass as `cursor` for the next page; null on the last page. */
                        next_cursor: string | null;
                    };
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    adminRetryJob: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The job's id, as `GET /v1/admin/jobs` lists it. */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0192f5c5-8fc3-71e6-a8d3-5e6f7a8b9c01",
                     *       "name": "mail.send",
                     *       "state": "failed",
                     *       "data": {
                     *         "to": "ann@example.com"
                     *       },
                     *       "retry_count": 5,
                     *       "retry_limit": 5,
                     *       "output": {
                     *         "message": "SMTP server did not answer within 10 s"
                     *       },
                     *       "created_on": "2026-11-01T09:00:00.000Z",
                     *       "started_on": "2026-11-01T09:31:00.000Z",
                     *       "completed_on": "2026-11-01T09:31:10.000Z",
                     *       "start_after": "2026-11-01T09:31:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Job"];
                };
            };
            /** @description `validation_failed`: the input does not match the schema (see `errors[]`). */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthorized`: no credentials, or invalid, expired or revoked ones. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`, `subscription_required` or `limit_exceeded`. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: no such resource, or not one the caller may see. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description conflict: the job is not in state `failed` */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `rate_limited`: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
}
