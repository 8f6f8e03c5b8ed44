import assert from "node:assert/strict";
import { test } from "node:test";
import { slugify } from "./slugify.js";

test("lowercases", () => {
	assert.equal(slugify("Hello"), "hello");
});

test("joins words with dashes", () => {
	assert.equal(slugify("hello big world"), "hello-big-world");
});

test("trims and collapses separators", () => {
	assert.equal(slugify("  Hello,   World!  "), "hello-world");
});
