// A function that never answers: the server times it out; everything else keeps being served.
export default function hang() {}
