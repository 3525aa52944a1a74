# The gRPC service template (Grpc.AspNetCore, its Greeter service, Kestrel on HTTP/2 only), plus the one line.
# SayHello is called over HTTP/2 cleartext (prior knowledge) with a framed HelloRequest { name = "abc" }.
TEMPLATE=grpc
PACKAGES=(Grpc.AspNetCore@2.85.0)
CURL_ARGS=(--http2-prior-knowledge)
setup() { printf '\x00\x00\x00\x00\x05\x0a\x03abc' >"$CASE_WORK/hello.bin"; }
REQUESTS=('GET /'
          'POST /greet.Greeter/SayHello -H "content-type: application/grpc" -H "te: trailers" --data-binary @$CASE_WORK/hello.bin')
