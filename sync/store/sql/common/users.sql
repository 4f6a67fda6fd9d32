-- name: find_or_create_user
-- A user by e-mail, created when new; an existing user keeps their name unless it was empty.
INSERT INTO users (email, name, created_at) VALUES (:email, :name, :now)
ON CONFLICT (email) DO UPDATE SET name = CASE WHEN users.name = '' THEN excluded.name ELSE users.name END
RETURNING id

-- name: get_user
-- One user by id.
SELECT id, email, name, created_at, language FROM users WHERE id = :id

-- name: get_user_by_email
-- One user by e-mail (stored lower-case).
SELECT id, email, name, created_at, language FROM users WHERE email = :email

-- name: grant_membership
-- Give a user a role in an installation, replacing the role they had there.
INSERT INTO memberships (user_id, installation_id, role, created_at)
VALUES (:user_id, :installation_id, :role, :now)
ON CONFLICT (user_id, installation_id) DO UPDATE SET role = excluded.role

-- name: get_membership_role
-- A user's role in one installation (no row: not a member).
SELECT role FROM memberships WHERE user_id = :user_id AND installation_id = :installation_id

-- name: list_memberships
-- Everyone's role in one installation, by user id.
SELECT m.user_id, u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.installation_id = :installation_id ORDER BY m.user_id
