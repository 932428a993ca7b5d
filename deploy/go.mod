module github.com/parleychat/parley/deploy

go 1.26.0
