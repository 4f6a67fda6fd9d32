-- name: member_installations
-- A page of the installations a user is a member of, by id after :after, with the user's role in each.
SELECT i.*, m.role AS member_role FROM installations i
JOIN memberships m ON m.installation_id = i.id AND m.user_id = :user_id
WHERE i.id > :after
ORDER BY i.id
LIMIT :limit

-- name: stream_successes
-- The last success of each sync stream of the installations from :first to :last a user is a member of.
SELECT s.installation_id, s.stream, s.last_success_at FROM sync_state s
JOIN memberships m ON m.installation_id = s.installation_id AND m.user_id = :user_id
WHERE s.installation_id BETWEEN :first AND :last

-- name: economic_hints_received
-- When each e-conomic webhook topic last arrived, per installation from :first to :last a user is a member of.
SELECT i.id AS installation_id,
       (SELECT MAX(n.received_at) FROM inbox n WHERE n.installation_id = i.id
          AND n.source = 'economic' AND n.topic = 'invoice') AS invoice,
       (SELECT MAX(n.received_at) FROM inbox n WHERE n.installation_id = i.id
          AND n.source = 'economic' AND n.topic = 'customer') AS customer,
       (SELECT MAX(n.received_at) FROM inbox n WHERE n.installation_id = i.id
          AND n.source = 'economic' AND n.topic = 'daybook') AS daybook
FROM installations i
JOIN memberships m ON m.installation_id = i.id AND m.user_id = :user_id
WHERE i.id BETWEEN :first AND :last

-- name: platform_calls_since
-- Calls to a platform in the buckets from :since on, per installation from :first to :last a user is a member of.
SELECT u.installation_id, SUM(u.calls) AS calls FROM api_usage u
JOIN memberships m ON m.installation_id = u.installation_id AND m.user_id = :user_id
WHERE u.platform = :platform AND u.minute >= :since AND u.installation_id BETWEEN :first AND :last
GROUP BY u.installation_id
