// A function that throws: the request is a 500, the server stays up.
export default function throws() {
  throw new Error('this function always throws')
}
