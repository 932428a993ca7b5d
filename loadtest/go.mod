module github.com/parleychat/parley/loadtest

go 1.26.0
