-- "Add a client company" (issue 13): the install a signed-in bookkeeper asked for by a form
-- (with its CSRF token) records who asked, so that its callback links the new company to that
-- person only when it comes back in the same browser session; a callback another site sends the
-- browser to carries no such nonce and links nothing to anybody signed in.
ALTER TABLE install_states ADD COLUMN linking_user_id BIGINT REFERENCES users(id) ON DELETE CASCADE;
