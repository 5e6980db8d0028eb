-- name: CreateUser :one
INSERT INTO users (keycloak_subject_id, email, name)
VALUES (@keycloak_subject_id, @email, @name)
RETURNING *;

-- name: FindUserByID :one
SELECT * FROM users
WHERE id = @id AND (deleted_at IS NULL OR @with_deleted::boolean);

-- name: FindUserBySubject :one
SELECT * FROM users
WHERE keycloak_subject_id = @keycloak_subject_id AND deleted_at IS NULL;

-- name: UserIsLive :one
SELECT EXISTS (SELECT 1 FROM users WHERE id = @id AND deleted_at IS NULL);

-- FindUsers is a keyset page in id order: the primary key serves it.
-- name: FindUsers :many
SELECT * FROM users
WHERE id > @after_id AND (deleted_at IS NULL OR @with_deleted::boolean)
ORDER BY id
LIMIT @row_limit;

-- name: SoftDeleteUser :execrows
UPDATE users SET deleted_at = now(), updated_at = now()
WHERE id = @id AND deleted_at IS NULL;
