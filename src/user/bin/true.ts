// true and false: exit 0 and 1.

export function* trueMain(): Generator<unknown, number, unknown> {
  return 0;
}

export function* falseMain(): Generator<unknown, number, unknown> {
  return 1;
}
