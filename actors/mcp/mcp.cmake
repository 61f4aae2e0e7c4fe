# actors/mcp: the MCP server API and session engine, compiled into
# skein_actors (included from actors/CMakeLists.txt).
target_sources(skein_actors PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/catalog.cpp
  ${CMAKE_CURRENT_LIST_DIR}/methods.cpp
  ${CMAKE_CURRENT_LIST_DIR}/streams.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tool_calls.cpp
  ${CMAKE_CURRENT_LIST_DIR}/uri_template.cpp
  ${CMAKE_CURRENT_LIST_DIR}/versions.cpp)
