"""What clients send, checked once at the edge: the JSON body (`json_body`) and the shape of an
Anthropic Messages request (`messages_request`). Anything that passes can be converted without
meeting a wrong type, a recursion limit or a string that cannot be encoded."""
