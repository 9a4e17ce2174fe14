# want: 5: Duplicate agent block
agent {
}

agent {
}
