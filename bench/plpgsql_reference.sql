-- DESIGN.md's PL/pgSQL reference: logistic matrix factorisation, dim 16,
-- embeddings as float4[] rows keyed by ID; per example one PL/pgSQL call
-- reads both rows by primary key (inserting them when absent), takes the dot
-- product and sigmoid, applies one SGD step to both and writes both back.
CREATE TABLE ref_user_embedding (id int PRIMARY KEY, v float4[] NOT NULL);
CREATE TABLE ref_item_embedding (id int PRIMARY KEY, v float4[] NOT NULL);

CREATE FUNCTION ref_train(u int, i int, y float8, lr float8) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
	uv float4[];
	iv float4[];
	nu float4[];
	ni float4[];
	dot float8 := 0;
	p float8;
	g float8;
BEGIN
	SELECT v INTO uv FROM ref_user_embedding WHERE id = u;
	IF NOT FOUND THEN
		uv := ARRAY(SELECT ((random() - 0.5) * 0.02)::float4 FROM generate_series(1, 16));
		INSERT INTO ref_user_embedding VALUES (u, uv);
	END IF;
	SELECT v INTO iv FROM ref_item_embedding WHERE id = i;
	IF NOT FOUND THEN
		iv := ARRAY(SELECT ((random() - 0.5) * 0.02)::float4 FROM generate_series(1, 16));
		INSERT INTO ref_item_embedding VALUES (i, iv);
	END IF;
	FOR k IN 1..16 LOOP
		dot := dot + uv[k] * iv[k];
	END LOOP;
	p := 1 / (1 + exp(-dot));
	g := p - y;
	nu := uv;
	ni := iv;
	FOR k IN 1..16 LOOP
		nu[k] := uv[k] - lr * g * iv[k];
		ni[k] := iv[k] - lr * g * uv[k];
	END LOOP;
	UPDATE ref_user_embedding SET v = nu WHERE id = u;
	UPDATE ref_item_embedding SET v = ni WHERE id = i;
	RETURN p;
END
$$;
